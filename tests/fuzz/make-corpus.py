#!/usr/bin/python3
"""Writes the seed corpora of fuzz_spec, fuzz_runtime_log, fuzz_strings,
fuzz_sandbox_service, fuzz_agent_service and fuzz_agent_streams
under tests/fuzz/corpus/<target>/. Run it again after changing a seed; the
files are committed, so CI never needs to run it.

Protobuf seeds are encoded by hand (a few fields each) so that this script
needs nothing beyond the standard library. corpus/spec/ctr_oci_spec_default
is not written here: it is the output of `ctr oci spec` (containerd 1.6)."""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# ------------------------------------------------------------ protobuf


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, value):
    """A length-delimited field (str/bytes) or a varint field (bool/int)."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return varint(num << 3) + varint(value)
    if isinstance(value, str):
        value = value.encode()
    return varint(num << 3 | 2) + varint(len(value)) + value


def msg(*fields):
    return b"".join(field(n, v) for n, v in fields)


def any_msg(type_url, value):
    return msg((1, type_url), (2, value))


# ------------------------------------------------------------ config.json

CTR_SPEC = {
    "ociVersion": "1.0.2-dev",
    "process": {
        "user": {"uid": 0, "gid": 0},
        "args": ["sh", "-c", "sleep 600"],
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "cwd": "/",
        "capabilities": {k: ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
                         for k in ("bounding", "effective", "permitted")},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs"},
    "hostname": "ctr-host",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "cgroupsPath": "/default/ctr-task",
        "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")],
        "maskedPaths": ["/proc/kcore", "/sys/firmware"],
        "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"],
    },
}


def cri_spec(kind):
    s = json.loads(json.dumps(CTR_SPEC))
    s["process"]["args"] = ["/pause"] if kind == "sandbox" else ["nginx", "-g", "daemon off;"]
    s["process"]["terminal"] = kind != "sandbox"
    s["root"] = {"path": "/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs",
                 "readonly": kind == "sandbox"}
    s["annotations"] = {
        "io.kubernetes.cri.container-type": kind,
        "io.kubernetes.cri.sandbox-id": "a" * 64,
        "io.kubernetes.cri.sandbox-name": "web-0",
        "io.kubernetes.cri.sandbox-namespace": "default",
    }
    s["linux"]["cgroupsPath"] = "kubepods-besteffort-pod1.slice:cri-containerd:" + "a" * 64
    ns = [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"},
          {"type": "network", "path": "/var/run/netns/cni-1234"}]
    if kind == "container":
        ns[0]["path"] = "/proc/4242/ns/pid"
    s["linux"]["namespaces"] = ns
    return s


def pod_sandbox_spec():
    """A sandbox spec with every field the infra process and the pod cgroup
    read: user, oomScoreAdj, sysctls, resources."""
    s = cri_spec("sandbox")
    s["process"]["user"] = {"uid": 65535, "gid": 65535}
    s["process"]["oomScoreAdj"] = -998
    s["linux"]["sysctl"] = {"net.ipv4.ip_unprivileged_port_start": "0",
                            "kernel.shmmax": "68719476736"}
    s["linux"]["resources"]["cpu"] = {"shares": 2, "quota": -1, "period": 100000}
    s["linux"]["resources"]["memory"] = {"limit": 268435456}
    return s


def userns_sandbox_spec():
    """containerd 2.1's sandbox of a user-namespace pod: the pinned user
    namespace by path, and its maps."""
    s = pod_sandbox_spec()
    s["linux"]["namespaces"].append(
        {"type": "user", "path": "/run/containerd/io.containerd.grpc.v1.cri/sandboxes/"
         + "a" * 64 + "/pinned-namespaces/user"})
    m = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    s["linux"]["uidMappings"] = m
    s["linux"]["gidMappings"] = m
    return s


def spec_seeds():
    minimal = {"process": {"args": ["true"], "cwd": "/"}, "root": {"path": "rootfs"}}
    return {
        "ctr_run": json.dumps(CTR_SPEC, indent=4).encode(),
        "cri_sandbox": json.dumps(cri_spec("sandbox")).encode(),
        "cri_container": json.dumps(cri_spec("container"), indent=2).encode(),
        "pod_sandbox": json.dumps(pod_sandbox_spec()).encode(),
        "userns_sandbox": json.dumps(userns_sandbox_spec()).encode(),
        "minimal": json.dumps(minimal).encode(),
        "no_process": json.dumps({"root": {"path": "rootfs"}}).encode(),
        "no_root": json.dumps({"process": {"args": ["true"], "cwd": "/"}}).encode(),
        "bad_args": b'{"process":{"args":[1,"x"],"cwd":"/"},"root":{"path":"r"}}',
        "bad_ns": b'{"process":{"cwd":"/"},"root":{"path":"r"},"linux":{"namespaces":[{}]}}',
        "trailing": json.dumps(minimal).encode() + b"\n}garbage",
        "not_object": b"[1, 2, 3]",
        "truncated": json.dumps(CTR_SPEC).encode()[:300],
        "unicode": '{"process":{"args":["\\u00e9\\ud83d\\ude00"],"cwd":"/"},'
                   '"root":{"path":"r\\u0000x"},"hostname":"\u00e9"}'.encode(),
    }


# ------------------------------------------------------------ runtime inputs

RUNC_LOG = [
    '{"level":"debug","msg":"nsexec[12345]: => nsexec container setup","time":"2024-01-01T00:00:00Z"}',
    '{"level":"info","msg":"starting container process","time":"2024-01-01T00:00:00Z"}',
    '{"level":"warning","msg":"cgroup: subsystem does not exist","time":"2024-01-01T00:00:00Z"}',
    '{"level":"error","msg":"runc run failed: unable to start container process: exec: '
    '\\"nosuch\\": executable file not found in $PATH","time":"2024-01-01T00:00:01Z"}',
]

TOML = """# podshim runtime config (CRI options.ConfigPath)
BinaryName = "/usr/bin/crun"
Root = '/run/containerd/crun'
SystemdCgroup = false
NoPivotRoot = true  # comment after a value
IoUid = 1000
IoGid = 1000
ShimCgroup = "/podshim/shim"
CriuPath = "/usr/sbin/criu"
CriuImagePath = "a \\"quoted\\" path\\twith\\\\escapes"
CriuWorkPath = "/tmp/#not-a-comment"
NoNewKeyring = true
"""


def runtime_seeds():
    runc_v1 = msg((1, True), (2, True), (3, "/podshim/shim"), (4, 1000), (5, 1000),
                  (6, "/usr/bin/crun"), (7, "/run/containerd/crun"), (8, "/usr/sbin/criu"),
                  (9, True), (10, "/var/lib/criu/img"), (11, "/var/lib/criu/work"))
    legacy = msg((1, True), (6, "network"), (6, "ipc"), (7, "cgroupfs"), (8, True),
                 (9, "/legacy/shim"), (10, 0), (11, 0), (12, "/w"), (13, "/i"))
    rtopts = msg((1, "io.containerd.podshim.v2.options"), (2, "/etc/podshim/runtime.toml"))
    return {
        "log_error": b"\0" + "\n".join(RUNC_LOG).encode() + b"\n",
        "log_two_errors": b"\0" + (RUNC_LOG[3] + "\n" + RUNC_LOG[3].replace("nosuch", "x")).encode(),
        "log_garbage": b"\0" + b'not json\n{"level":"error"}\n{"level":"error","msg":7}\n\n',
        "log_unterminated": b"\0" + RUNC_LOG[3].encode()[:-1],
        "runc_v1": b"\1" + runc_v1,
        "runc_v1_empty": b"\1",
        "legacy": b"\2" + legacy,
        "runtimeoptions": b"\3" + rtopts,
        "runtimeoptions_nopath": b"\3" + msg((1, "x")),
        "toml": b"\4" + TOML.encode(),
        "toml_bad": b"\4" + b'Root = "unterminated\nIoUid = -1\nWho = 1\nnoequals\n',
    }


# ------------------------------------------------------------ Task requests

# index into fuzz_strings.c's descs[]
ENVELOPE, CREATE, DELETE, EXEC, RESIZE, STATE, KILL, CLOSEIO, PIDS, CHECKPOINT, UPDATE, \
    START, WAIT, STATS, CONNECT, SHUTDOWN, PAUSE, RESUME = range(18)


def strings_seeds():
    state = msg((1, "web"), (2, "exec-1"))
    mount = msg((1, "overlay"), (2, "overlay"), (4, "lowerdir=/a:/b"), (4, "upperdir=/u"))
    create = msg((1, "web"), (2, "/run/containerd/io.containerd.runtime.v2.task/default/web"),
                 (3, mount), (4, True), (5, "/run/containerd/fifo/1/web-stdin"),
                 (10, any_msg("containerd.runc.v1.Options", msg((6, "runc")))))
    exec_req = msg((1, "web"), (2, "exec-1"), (3, False),
                   (7, any_msg("types.containerd.io/opencontainers/runtime-spec/1/Process",
                               b'{"args":["sh"],"cwd":"/"}')))
    update = msg((1, "web"), (2, any_msg("x/LinuxResources", b"{}")),
                 (3, msg((1, "k"), (2, "v"))))
    return {
        "envelope": bytes([ENVELOPE]) + msg((1, "containerd.task.v2.Task"), (2, "State"),
                                            (3, state), (4, 1000000),
                                            (5, msg((1, "containerd-namespace-ttrpc"),
                                                    (2, "default")))),
        "create": bytes([CREATE]) + create,
        "exec": bytes([EXEC]) + exec_req,
        "state": bytes([STATE]) + state,
        "state_nul": bytes([STATE]) + msg((1, "we\0b")),
        "state_latin1": bytes([STATE]) + msg((1, b"caf\xe9")),
        "state_surrogate": bytes([STATE]) + msg((1, b"\xed\xa0\x80")),
        "kill": bytes([KILL]) + msg((1, "web"), (3, 9), (4, True)),
        "update": bytes([UPDATE]) + update,
        "checkpoint": bytes([CHECKPOINT]) + msg((1, "web"), (2, "/cp"),
                                                (3, any_msg("containerd.runc.v1.CheckpointOptions",
                                                            msg((1, True))))),
        "resize": bytes([RESIZE]) + msg((1, "web"), (3, 80), (4, 24)),
        "truncated": bytes([CREATE]) + create[:40],
        "utf8_4byte": bytes([DELETE]) + msg((1, "\U0001f600"), (2, "\u00e9")),
    }


def sandbox_service_seeds():
    """Programs for fuzz_sandbox_service: (op, argument) byte pairs, op
    numbers as its step() switch has them (op % 21): 0 CreateSandbox
    (argument % 5: 0 a good config, 1 a bad one, 2 runc options, 3
    garbage, 4 none), 1 StartSandbox, 2 Platform, 3 StopSandbox (argument
    & 1: a grace period), 4 WaitSandbox, 5 SandboxStatus, 6 PingSandbox, 7
    ShutdownSandbox, 8 SandboxMetrics, 9-15 Task Create, Start, Kill,
    Delete, Wait, Shutdown, Connect (argument % 3: pod, c1, c2), 16 a held
    backend call completes, 17 a process exits, 18 the backend's mood, 19
    drains, 20 raw bytes (a broken frame); an argument with 0x80 set names an
    unknown sandbox."""
    def prog(*pairs):
        return bytes(b for pair in pairs for b in pair)

    return {
        "lifecycle": prog((0, 0), (1, 0), (9, 1), (10, 1), (9, 2), (10, 2), (5, 1), (2, 0),
                          (6, 0), (8, 0), (4, 0), (3, 0), (7, 0), (14, 0)),
        "grace": prog((0, 0), (1, 0), (9, 1), (10, 1), (3, 1), (17, 1), (4, 0), (7, 0)),
        "infra_death": prog((0, 0), (1, 0), (9, 1), (10, 1), (4, 0), (17, 0), (12, 1), (15, 0),
                            (7, 0)),
        "held": prog((18, 2), (0, 0), (1, 0), (7, 0), (16, 0), (16, 0), (18, 0), (7, 0)),
        "hostile": prog((0, 1), (0, 2), (0, 3), (0, 4), (0, 0x40), (0, 0x80), (0, 0x30),
                        (1, 0x80), (7, 0x80), (4, 0x80), (0, 0), (0, 0), (12, 0), (11, 0)),
    }


def ttrpc_frame(stream, service, method, payload=b"", timeout=0, ftype=1):
    """One whole ttrpc frame: the 10-byte header, then a Request envelope."""
    fields = [(1, service), (2, method), (3, payload)]
    if timeout:
        fields.append((4, timeout))
    body = msg(*fields)
    return (len(body).to_bytes(4, "big") + stream.to_bytes(4, "big") + bytes([ftype, 0]) +
            body)


def agent_service_seeds():
    """Inputs for fuzz_agent_service: a chunk-size byte, then raw bytes from
    the host: whole frames of podshim.agent.v1.Agent calls."""
    agent = "podshim.agent.v1.Agent"
    hello = ttrpc_frame(1, agent, "Hello", msg((1, "0.1.0")), 2000000000)
    bundles = "/tmp/podshim-fuzz-agent"
    return {
        "hello": b"\x60" + hello,
        "hello_bytewise": b"\x00" + hello,
        "shutdown": b"\x60" + hello + ttrpc_frame(3, agent, "Shutdown"),
        "unknown": b"\x60" + ttrpc_frame(1, agent, "Exec", msg((1, "c1"))) +
                   ttrpc_frame(3, "containerd.task.v2.Task", "Create"),
        # fuzz_agent_service's bundle directory and a runtime it cannot find
        "create": b"\x60" + ttrpc_frame(1, agent, "CreateContainer", msg(
            (1, "c1"), (2, bundles + "/c1"), (3, "runc"), (6, True), (7, True),
            (8, True))),
        "create_outside": b"\x60" + ttrpc_frame(1, agent, "CreateContainer", msg(
            (1, "c1"), (2, "/etc"), (3, "/bin/sh"), (4, "/etc/passwd"))),
        "containers": b"\x60" + b"".join(
            ttrpc_frame(2 * i + 1, agent, m, msg((1, "c1")))
            for i, m in enumerate(["StartContainer", "Pids", "DeleteContainer"])) +
            ttrpc_frame(7, agent, "Signal", msg((1, "c1"), (3, 9), (4, 1))) +
            ttrpc_frame(9, agent, "Signal", msg((1, "c1"), (2, "e1"), (3, 15))),
        "wait_exits": b"\x60" + ttrpc_frame(1, agent, "WaitExits", msg((1, 0))) +
                      ttrpc_frame(3, agent, "WaitExits", msg((1, 5)), 1000000),
        # stdio: a read from offset 0 and one acknowledging bytes, stderr,
        # a stream that does not exist; a write, one sent again, CloseStdin
        "stdio": b"\x60" + ttrpc_frame(1, agent, "ReadOutput", msg(
            (1, "c1"), (3, 0), (4, 65536))) +
            ttrpc_frame(3, agent, "ReadOutput", msg((1, "c1"), (2, 1), (3, 5))) +
            ttrpc_frame(5, agent, "ReadOutput", msg((1, "c1"), (2, 7))) +
            ttrpc_frame(7, agent, "WriteStdin", msg((1, "c1"), (2, "hello\n"))) +
            ttrpc_frame(9, agent, "WriteStdin", msg((1, "c1"), (2, "lo\n"), (3, 3))) +
            ttrpc_frame(11, agent, "CloseStdin", msg((1, "c1"))),
        "create_then_stdio": b"\x60" + ttrpc_frame(1, agent, "CreateContainer", msg(
            (1, "c1"), (2, bundles + "/c1"), (3, "runc"), (7, True))) +
            ttrpc_frame(3, agent, "ReadOutput", msg((1, "c1"))) +
            ttrpc_frame(5, agent, "WriteStdin", msg((1, "c1"), (2, b"\x00" * 64))),
        # stats of a container that does not exist, of one just created
        "stats": b"\x60" + ttrpc_frame(1, agent, "Stats", msg((1, "c1"))) +
                 ttrpc_frame(3, agent, "CreateContainer", msg(
                     (1, "c2"), (2, bundles + "/c2"), (3, "runc"))) +
                 ttrpc_frame(5, agent, "Stats", msg((1, "c2"))) +
                 ttrpc_frame(7, agent, "Stats", msg((1, "../c2"))),
        # exec: a well-formed one (its container is gone: NOT_FOUND), bad
        # process JSON, a terminal, an exec id on methods that take none,
        # the exec's stdio and signal, DeleteExec, Resize
        "exec": b"\x60" + ttrpc_frame(1, agent, "ExecProcess", msg(
            (1, "c1"), (2, "e1"), (3, '{"args":["sh","-c","echo hi"],"cwd":"/"}'),
            (4, True), (5, True), (6, True))) +
            ttrpc_frame(3, agent, "ExecProcess", msg((1, "c1"), (2, "e2"), (3, '{"args":[1]'))) +
            ttrpc_frame(5, agent, "ExecProcess", msg(
                (1, "c1"), (2, "e3"), (3, '{"args":["true"],"terminal":true}'), (7, True))) +
            ttrpc_frame(7, agent, "ExecProcess", msg((1, "c1"), (2, "../x"), (3, "{}"))) +
            ttrpc_frame(9, agent, "StartContainer", msg((1, "c1"), (2, "e1"))) +
            ttrpc_frame(11, agent, "ReadOutput", msg((1, "c1"), (3, 0), (5, "e1"))) +
            ttrpc_frame(13, agent, "WriteStdin", msg((1, "c1"), (2, "x"), (4, "e1"))) +
            ttrpc_frame(15, agent, "CloseStdin", msg((1, "c1"), (2, "e1"))) +
            ttrpc_frame(17, agent, "Signal", msg((1, "c1"), (2, "e1"), (3, 9), (4, 1))) +
            ttrpc_frame(19, agent, "DeleteExec", msg((1, "c1"), (2, "e1"))) +
            ttrpc_frame(21, agent, "Resize", msg((1, "c1"), (2, "e3"), (3, 80), (4, 24))) +
            ttrpc_frame(23, agent, "Resize", msg((1, "c1"), (3, 1 << 20), (4, 0))),
        "create_then_exec": b"\x60" + ttrpc_frame(1, agent, "CreateContainer", msg(
            (1, "c1"), (2, bundles + "/c1"), (3, "runc"), (7, True))) +
            ttrpc_frame(3, agent, "ExecProcess", msg(
                (1, "c1"), (2, "e1"), (3, '{"args":["true"]}'), (5, True))) +
            ttrpc_frame(5, agent, "ExecProcess", msg(
                (1, "c1"), (2, "e1"), (3, '{"args":["true"]}'))),
        # the network: a well-formed request (FAILED_PRECONDITION: the
        # fuzz target's agent does not manage its host's network), a bad MAC,
        # a bad address, a bad route device
        "setup_network": b"\x60" + ttrpc_frame(1, agent, "SetupNetwork", msg(
            (1, msg((1, "eth0"), (2, "06:16:3a:e7:58:82"), (3, 1500), (4, "10.88.0.2/24"),
                    (4, "fd00::2/64"))),
            (2, msg((1, "0.0.0.0/0"), (2, "10.88.0.1"), (3, "eth0"))))) +
            ttrpc_frame(3, agent, "SetupNetwork", msg((1, msg((1, "eth0"), (2, "zz"))))) +
            ttrpc_frame(5, agent, "SetupNetwork", msg((1, msg(
                (1, "eth0"), (2, "06:16:3a:e7:58:82"), (4, "10.88.0.2"))))) +
            ttrpc_frame(7, agent, "SetupNetwork", msg((2, msg((1, "::/0"), (3, "../x"))))),
        "bad_payload": b"\x60" + ttrpc_frame(1, agent, "Hello", b"\x0a\xff\x01"),
        "even_stream": b"\x60" + ttrpc_frame(2, agent, "Hello"),
    }


def agent_streams_seeds():
    """Inputs for fuzz_agent_streams: (operation, argument) byte pairs --
    0 the container writes (arg odd: stderr), 1 closes an output, 2/3 a
    read around what was acknowledged (arg >> 5: 0 below, 1 at, more
    beyond), 4 a stdin write around what was taken, 5 CloseStdin, 6 the
    container reads its stdin, 7 a turn of the loop."""
    def ops(*pairs):
        return bytes(b for pair in pairs for b in pair)
    return {
        "output": ops((0, 40), (7, 0), (2, 0x20), (7, 0), (3, 0x2f), (7, 0), (2, 0x20),
                      (0, 41), (7, 0), (3, 0x21), (1, 0), (7, 0), (2, 0x20), (7, 0)),
        "bad_offsets": ops((0, 10), (7, 0), (2, 0x00), (2, 0xe0), (2, 0x20), (2, 0x00)),
        "full": ops(*([(0, 255), (7, 0)] * 40), (2, 0x20), (7, 0), (2, 0x20), (7, 0)),
        "stdin": ops((4, 0x10), (6, 0), (4, 0x48), (4, 0x08), (6, 0), (5, 0), (6, 0),
                     (4, 0x10)),
        "stdin_full": ops(*([(4, 0xff)] * 40), (7, 0), (6, 0), (7, 0), (6, 0), (5, 0)),
    }


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print("%s: %d seeds" % (target, len(seeds)))


def main():
    write("spec", spec_seeds())
    write("runtime_log", runtime_seeds())
    write("strings", strings_seeds())
    write("sandbox_service", sandbox_service_seeds())
    write("agent_service", agent_service_seeds())
    write("agent_streams", agent_streams_seeds())
    return 0


if __name__ == "__main__":
    sys.exit(main())
