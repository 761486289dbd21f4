"""The Sandbox service (containerd.runtime.sandbox.v1.Sandbox) on a live
shim, driven the way containerd 2.x's shim sandboxer drives it
(plugins/sandbox/controller.go of 2.1.9), without containerd in between:

  `<shim> -namespace N -address A -publish-binary B -id <sandbox> start` in
  a bundle with no config.json, then CreateSandbox (options: CRI's
  PodSandboxConfig), StartSandbox, Platform, SandboxStatus, WaitSandbox
  parked for the pod's life, StopSandbox, ShutdownSandbox, and `delete`.

The shim publishes to the session's containerd (TTRPC_ADDRESS), so its
/sandboxes/* events are checked with `ctr events`. Every method also gets
hostile input (bad and unknown ids, missing options, wrong type URLs,
undecodable bytes, calls in the wrong state) and must answer with the exact
gRPC code while the shim keeps serving. The CRI end to end (containerd 2.1
with a `sandboxer = "shim"` handler) is test_shim_sandboxer.py.
"""

import json
import os
import shutil
import signal
import subprocess
import time
import uuid

import pytest

import harness
import ttrpc_client as tc
from cri import client as cri_client
from cri import host
from ttrpc_client import (ALREADY_EXISTS, FAILED_PRECONDITION, INVALID_ARGUMENT, NOT_FOUND, OK,
                          UNIMPLEMENTED)

PODSHIM = "io.containerd.podshim.v2"
SHIM = harness.SHIM_BINARIES[PODSHIM]
SB = tc.SANDBOX_SERVICE
CONFIG_URL = "runtime.v1.PodSandboxConfig"
TIMEOUT = 10


@pytest.fixture(scope="module")
def pb():
    return tc.load_protos()


@pytest.fixture(scope="module")
def cri():
    return cri_client.load_stubs().pb


@pytest.fixture(scope="module")
def shim_path(bin_dir):
    path = os.path.join(bin_dir, SHIM)
    if not os.access(path, os.X_OK):
        pytest.fail("%s not found in PODSHIM_BIN_DIR=%s (build it first)" % (SHIM, bin_dir))
    return path


@pytest.fixture(scope="module")
def cgroup_root():
    root = "pse2e-sbx-%d" % os.getpid()
    yield root
    stuck = host.remove_cgroup_tree(root)
    assert not stuck, "cgroups left: %s" % stuck


class SandboxShim:
    """A shim started for one sandbox id exactly as containerd 2.1's shim
    controller starts it: `start` in a bundle without config.json."""

    def __init__(self, containerd, namespace, shim_path, pb, sid):
        self.cd = containerd
        self.ns = namespace
        self.shim_path = shim_path
        self.pb = pb
        self.id = sid
        self.bundle = os.path.join(containerd.dir, "sandboxes", sid)
        os.makedirs(self.bundle)
        env = self.env()
        p = subprocess.run([shim_path, "-namespace", namespace, "-address", containerd.address,
                            "-publish-binary", containerd.dist.containerd, "-id", sid, "start"],
                           cwd=self.bundle, env=env, input=b"", capture_output=True, timeout=30)
        assert p.returncode == 0, p
        address = p.stdout.decode().strip()
        assert address.startswith("unix://"), address
        self.socket = address[len("unix://"):]
        with open(os.path.join(self.bundle, "shim.pid")) as f:
            self.pid = int(f.read())

    def env(self):
        env = self.cd.env()
        env.update(TTRPC_ADDRESS=self.cd.ttrpc_address, GRPC_ADDRESS=self.cd.address,
                   NAMESPACE=self.ns)
        return env

    def client(self):
        return tc.Client(self.socket, self.pb, timeout=TIMEOUT, service=SB)

    def alive(self):
        return host.alive(self.pid)

    def delete_action(self):
        return subprocess.run([self.shim_path, "-namespace", self.ns, "-address",
                               self.cd.address, "-publish-binary", self.cd.dist.containerd,
                               "-id", self.id, "-bundle", self.bundle, "delete"],
                              cwd=self.bundle, env=self.env(), capture_output=True, timeout=30)

    def cleanup(self):
        if self.alive() and os.path.exists(self.socket):
            try:
                with self.client() as c:
                    c.call("ShutdownSandbox", self.pb.sandbox.ShutdownSandboxRequest(
                        sandbox_id=self.id))
            except (OSError, AssertionError):
                pass
        try:
            harness.wait_until(lambda: not self.alive(), 5)
        except AssertionError:
            os.kill(self.pid, signal.SIGKILL)
        self.delete_action()
        shutil.rmtree(self.bundle, ignore_errors=True)


@pytest.fixture
def sandboxes(containerd, ctr, shim_path, pb):
    made = []

    def make(sid=None):
        sid = sid or "sbx-%d-%d" % (os.getpid(), len(made) + 1)
        s = SandboxShim(containerd, ctr.namespace, shim_path, pb, sid)
        made.append(s)
        return s

    yield make
    for s in made:
        s.cleanup()


def pod_config(cri, cgroup_root, network="POD", pid="CONTAINER", hostname="sbx-host",
               userns=None, maps=()):
    uid = uuid.uuid4().hex
    ns = cri.NamespaceOption(network=cri.NamespaceMode.Value(network),
                             pid=cri.NamespaceMode.Value(pid), ipc=cri.POD)
    if userns is not None:
        ns.userns_options.mode = cri.NamespaceMode.Value(userns)
        for cid, hid, n in maps:
            m = cri.IDMapping(container_id=cid, host_id=hid, length=n)
            ns.userns_options.uids.append(m)
            ns.userns_options.gids.append(m)
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name="sbx", uid=uid, namespace="podshim-e2e"),
        hostname=hostname,
        linux=cri.LinuxPodSandboxConfig(
            cgroup_parent="/%s/pod%s" % (cgroup_root, uid),
            security_context=cri.LinuxSandboxSecurityContext(namespace_options=ns)))


def create_request(pb, sid, bundle, config=None, type_url=CONFIG_URL, netns_path="",
                   value=None):
    req = pb.sandbox.CreateSandboxRequest(sandbox_id=sid, bundle_path=bundle,
                                          netns_path=netns_path)
    if config is not None or value is not None:
        req.options.CopyFrom(tc.any_msg(pb, type_url,
                                        value if value is not None else
                                        config.SerializeToString()))
    return req


def ok(reply, msg_type=None):
    assert reply.code == OK, reply
    return reply.decode(msg_type) if msg_type else None


def code_of(c, method, msg):
    return c.call(method, msg).code


def running_pod(pb, cri, cgroup_root, shim, **kw):
    """CreateSandbox + StartSandbox; returns the infra pid."""
    with shim.client() as c:
        ok(c.call("CreateSandbox", create_request(pb, shim.id, shim.bundle,
                                                  pod_config(cri, cgroup_root, **kw))))
        r = ok(c.call("StartSandbox", pb.sandbox.StartSandboxRequest(sandbox_id=shim.id)),
               pb.sandbox.StartSandboxResponse)
    assert r.pid > 0 and r.created_at.seconds > 0, r
    return r.pid


def status(pb, c, sid, verbose=False):
    return ok(c.call("SandboxStatus", pb.sandbox.SandboxStatusRequest(sandbox_id=sid,
                                                                       verbose=verbose)),
              pb.sandbox.SandboxStatusResponse)


# ---------------------------------------------------------------- life


def test_pod_life_through_the_sandbox_api(sandboxes, pb, cri, cgroup_root, events, ctr):
    """Create, start, status, platform, ping, metrics, a parked Wait that the
    infra process's death answers, events, shutdown, and a shim that is
    gone afterwards with `delete` tolerating the spec-less bundle."""
    shim = sandboxes()
    assert not os.path.exists(os.path.join(shim.bundle, "config.json"))
    pid = running_pod(pb, cri, cgroup_root, shim)
    with shim.client() as c:
        st = status(pb, c, shim.id, verbose=True)
        assert (st.sandbox_id, st.pid, st.state) == (shim.id, pid, "SANDBOX_READY"), st
        assert st.created_at.seconds > 0 and not st.HasField("exited_at"), st
        info = json.loads(st.info["info"])
        assert info["pid"] == pid and info["processStatus"] == "running", info
        assert info["sandboxer"] == "podshim" and info["members"] == [], info
        spec = info["runtimeSpec"]
        assert spec["hostname"] == "sbx-host", spec
        assert spec["linux"]["cgroupsPath"].endswith("/" + shim.id), spec
        assert {n["type"] for n in spec["linux"]["namespaces"]} >= {"network", "uts", "ipc",
                                                                     "pid"}, spec
        assert status(pb, c, shim.id).info == {}  # verbose only

        # the infra process: the shim's unprivileged child in new namespaces
        st_host = host.status(pid)
        assert int(st_host["PPid"]) == shim.pid, st_host
        assert int(st_host["CapEff"], 16) == 0 and st_host["Uid"].split()[0] != "0", st_host
        mine = host.ns_links(os.getpid(), ("net", "uts", "ipc"))
        theirs = host.ns_links(pid, ("net", "uts", "ipc"))
        assert all(mine[k] != theirs[k] for k in mine), (mine, theirs)
        assert spec["linux"]["cgroupsPath"] in host.proc_cgroups(pid).get("memory", ""), \
            host.proc_cgroups(pid)

        plat = ok(c.call("Platform", pb.sandbox.PlatformRequest(sandbox_id=shim.id)),
                  pb.sandbox.PlatformResponse).platform
        want_arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine,
                                                                 os.uname().machine)
        assert (plat.os, plat.architecture) == ("linux", want_arch), plat
        ok(c.call("PingSandbox", pb.sandbox.PingRequest(sandbox_id=shim.id)))
        m = ok(c.call("SandboxMetrics", pb.sandbox.SandboxMetricsRequest(sandbox_id=shim.id)),
               pb.sandbox.SandboxMetricsResponse).metrics
        assert m.id == shim.id and m.timestamp.seconds > 0, m
        assert m.data.type_url in ("io.containerd.cgroups.v1.Metrics",
                                   "io.containerd.cgroups.v2.Metrics"), m.data.type_url
        # the Task service on the same socket knows the pod's own task
        # (containerd's Connect after a restart)
        r = c.call("Connect", pb.task.ConnectRequest(id=shim.id), service=harness.TASK_V3)
        assert r.decode(pb.task.ConnectResponse).task_pid == pid, r

        # WaitSandbox parks; the infra process's death answers it
        wait = c.send("WaitSandbox", pb.sandbox.WaitSandboxRequest(sandbox_id=shim.id))
        time.sleep(0.2)
        ok(c.call("PingSandbox", pb.sandbox.PingRequest(sandbox_id=shim.id)))  # not blocked
        assert wait not in c.pending(), "WaitSandbox answered early"
        os.kill(pid, signal.SIGKILL)
        w = ok(c.recv(wait), pb.sandbox.WaitSandboxResponse)
        assert w.exit_status == 128 + signal.SIGKILL and w.exited_at.seconds > 0, w
        st = status(pb, c, shim.id)
        assert st.state == "SANDBOX_NOTREADY" and st.exited_at.seconds > 0, st
        assert st.pid == 0, st  # CRI would join a possibly reused pid's namespaces
        # answered at once now, and StopSandbox of an ended pod is a no-op
        w2 = ok(c.call("WaitSandbox", pb.sandbox.WaitSandboxRequest(sandbox_id=shim.id)),
                pb.sandbox.WaitSandboxResponse)
        assert w2 == w
        ok(c.call("StopSandbox", pb.sandbox.StopSandboxRequest(sandbox_id=shim.id)))
        ok(c.call("ShutdownSandbox", pb.sandbox.ShutdownSandboxRequest(sandbox_id=shim.id)))
    harness.wait_until(lambda: not shim.alive(), 10, what="the shim to exit")
    assert not os.path.exists(shim.socket)

    d = shim.delete_action()
    assert d.returncode == 0, d
    if harness.dist().version < (1, 7):
        return  # 1.6 knows no containerd.events.Sandbox* types: ctr cannot show them

    def topics(evs):
        got = [(e.topic, e.get("sandbox_id")) for e in evs if e.topic.startswith("/sandboxes/")]
        return got if ("/sandboxes/exit", shim.id) in got else None

    got = events.wait_for(topics, 10, what="/sandboxes/* events of %s" % shim.id)
    mine = [t for t, s in got if s == shim.id]
    assert mine == ["/sandboxes/create", "/sandboxes/start", "/sandboxes/exit"], got
    exit_ev = [e for e in events.snapshot() if e.topic == "/sandboxes/exit"
               and e.get("sandbox_id") == shim.id][0]
    assert exit_ev.get("exit_status") == 128 + signal.SIGKILL, exit_ev
    # no task events for the pod's own task
    assert not [e for e in events.snapshot() if e.topic.startswith("/tasks/")
                and e.get("container_id") == shim.id]


def test_stop_and_shutdown_of_a_running_pod(sandboxes, pb, cri, cgroup_root):
    """StopSandbox kills the infra process and answers once it is gone;
    ShutdownSandbox then ends the shim. A pod joined to a network
    namespace of its own keeps it (the namespace is CRI's)."""
    netns = "psbx%d" % os.getpid()
    harness.run(["ip", "netns", "add", netns])
    try:
        shim = sandboxes()
        path = "/var/run/netns/" + netns
        with shim.client() as c:
            ok(c.call("CreateSandbox", create_request(pb, shim.id, shim.bundle,
                                                      pod_config(cri, cgroup_root),
                                                      netns_path=path)))
            r = ok(c.call("StartSandbox", pb.sandbox.StartSandboxRequest(sandbox_id=shim.id)),
                   pb.sandbox.StartSandboxResponse)
            assert os.stat("/proc/%d/ns/net" % r.pid).st_ino == os.stat(path).st_ino
            wait = c.send("WaitSandbox", pb.sandbox.WaitSandboxRequest(sandbox_id=shim.id))
            ok(c.call("StopSandbox", pb.sandbox.StopSandboxRequest(sandbox_id=shim.id,
                                                                   timeout_secs=5)))
            assert not host.alive(r.pid)
            ok(c.recv(wait), pb.sandbox.WaitSandboxResponse)
            st = status(pb, c, shim.id)
            assert st.state == "SANDBOX_NOTREADY", st
            ok(c.call("ShutdownSandbox", pb.sandbox.ShutdownSandboxRequest(sandbox_id=shim.id)))
        harness.wait_until(lambda: not shim.alive(), 10, what="the shim to exit")
        assert os.path.exists(path)
    finally:
        harness.run(["ip", "netns", "del", netns], check=False)


def test_shutdown_of_a_live_pod_kills_it(sandboxes, pb, cri, cgroup_root):
    """containerd's cleanup after a failed StartSandbox: ShutdownSandbox on
    a pod that still runs ends it and the shim."""
    shim = sandboxes()
    with shim.client() as c:
        ok(c.call("CreateSandbox", create_request(pb, shim.id, shim.bundle,
                                                  pod_config(cri, cgroup_root))))
        pid = status(pb, c, shim.id).pid
        assert pid > 0 and host.alive(pid)
        assert status(pb, c, shim.id).state == "SANDBOX_NOTREADY"  # created, not started
        ok(c.call("ShutdownSandbox", pb.sandbox.ShutdownSandboxRequest(sandbox_id=shim.id)))
    harness.wait_until(lambda: not shim.alive() and not host.alive(pid), 10,
                       what="the shim and the infra process to exit")


# ------------------------------------------------------------- hostile input


def test_hostile_create(sandboxes, pb, cri, cgroup_root):
    """CreateSandbox with every kind of bad input: the exact code, nothing
    created, and the shim serving on."""
    shim = sandboxes()
    good = pod_config(cri, cgroup_root)
    bundle_files = sorted(os.listdir(shim.bundle))
    # a DNS entry that would write a second line into the pod's resolv.conf
    dns_config = pod_config(cri, cgroup_root)
    dns_config.dns_config.servers.append("10.0.0.1\noptions debug")
    cases = [
        ("empty id", create_request(pb, "", shim.bundle, good), INVALID_ARGUMENT),
        ("id with a slash", create_request(pb, "a/b", shim.bundle, good), INVALID_ARGUMENT),
        ("relative bundle", create_request(pb, shim.id, "rel/bundle", good), INVALID_ARGUMENT),
        ("bundle with ..", create_request(pb, shim.id, shim.bundle + "/../x", good),
         INVALID_ARGUMENT),
        ("missing bundle", create_request(pb, shim.id, shim.bundle + "-nope", good), NOT_FOUND),
        ("no options", create_request(pb, shim.id, shim.bundle), INVALID_ARGUMENT),
        ("runc options", create_request(pb, shim.id, shim.bundle, pb.runc.Options(),
                                        type_url="containerd.runc.v1.Options"),
         INVALID_ARGUMENT),
        ("full type URL", create_request(pb, shim.id, shim.bundle, good,
                                         type_url="type.googleapis.com/" + CONFIG_URL),
         INVALID_ARGUMENT),
        ("garbage config", create_request(pb, shim.id, shim.bundle, value=b"\x0a\xff\xff"),
         INVALID_ARGUMENT),
        ("network CONTAINER", create_request(pb, shim.id, shim.bundle,
                                             pod_config(cri, cgroup_root, network="CONTAINER")),
         INVALID_ARGUMENT),
        ("pid TARGET", create_request(pb, shim.id, shim.bundle,
                                      pod_config(cri, cgroup_root, pid="TARGET")),
         INVALID_ARGUMENT),
        ("netns for host network",
         create_request(pb, shim.id, shim.bundle, pod_config(cri, cgroup_root, network="NODE"),
                        netns_path="/proc/self/ns/net"), INVALID_ARGUMENT),
        ("relative netns", create_request(pb, shim.id, shim.bundle, good, netns_path="netns"),
         INVALID_ARGUMENT),
        ("user namespace without maps",
         create_request(pb, shim.id, shim.bundle, pod_config(cri, cgroup_root, userns="POD")),
         INVALID_ARGUMENT),
        ("user namespace with overlapping maps",
         create_request(pb, shim.id, shim.bundle, pod_config(cri, cgroup_root, userns="POD",
                                                             maps=[(0, 100000, 10),
                                                                   (5, 200000, 10)])),
         INVALID_ARGUMENT),
        ("hostname too long", create_request(pb, shim.id, shim.bundle,
                                             pod_config(cri, cgroup_root, hostname="h" * 65)),
         INVALID_ARGUMENT),
        ("DNS server with a newline", create_request(pb, shim.id, shim.bundle, dns_config),
         INVALID_ARGUMENT),
    ]
    with shim.client() as c:
        for what, req, code in cases:
            r = c.call("CreateSandbox", req)
            assert r.code == code, (what, r)
            assert code_of(c, "PingSandbox", pb.sandbox.PingRequest(sandbox_id=shim.id)) == \
                NOT_FOUND, what  # nothing was created
            assert sorted(os.listdir(shim.bundle)) == bundle_files, what
        # an undecodable request, and a namespace that does not exist
        r = c.call("CreateSandbox", payload=b"\xff\xff\xff")
        assert r.code == INVALID_ARGUMENT, r
        r = c.call("CreateSandbox", create_request(pb, shim.id, shim.bundle, good,
                                                   netns_path="/var/run/netns/psbx-none"))
        assert r.code == NOT_FOUND, r
        assert code_of(c, "PingSandbox", pb.sandbox.PingRequest(sandbox_id=shim.id)) == NOT_FOUND
        # and then a good one works, once
        ok(c.call("CreateSandbox", create_request(pb, shim.id, shim.bundle, good)))
        r = c.call("CreateSandbox", create_request(pb, shim.id, shim.bundle, good))
        assert r.code == ALREADY_EXISTS, r
        ok(c.call("PingSandbox", pb.sandbox.PingRequest(sandbox_id=shim.id)))
    assert shim.alive()


def test_hostile_calls_by_id_and_state(sandboxes, pb, cri, cgroup_root):
    """Every method on ids that name no sandbox is NOT_FOUND; calls in the
    wrong state are FAILED_PRECONDITION; a method the service does not
    have is UNIMPLEMENTED; the shim serves on throughout."""
    shim = sandboxes()
    s = pb.sandbox
    with shim.client() as c:
        for bad in ("", "nope", "../" + shim.id, "x" * 300):
            for method, msg in (("StartSandbox", s.StartSandboxRequest(sandbox_id=bad)),
                                ("Platform", s.PlatformRequest(sandbox_id=bad)),
                                ("StopSandbox", s.StopSandboxRequest(sandbox_id=bad)),
                                ("WaitSandbox", s.WaitSandboxRequest(sandbox_id=bad)),
                                ("SandboxStatus", s.SandboxStatusRequest(sandbox_id=bad)),
                                ("PingSandbox", s.PingRequest(sandbox_id=bad)),
                                ("SandboxMetrics", s.SandboxMetricsRequest(sandbox_id=bad))):
                r = c.call(method, msg)
                assert r.code == NOT_FOUND, (method, bad, r)
        r = c.call("UpdateSandbox", s.StartSandboxRequest(sandbox_id=shim.id))
        assert r.code == UNIMPLEMENTED, r

        ok(c.call("CreateSandbox", create_request(pb, shim.id, shim.bundle,
                                                  pod_config(cri, cgroup_root))))
        # ShutdownSandbox of another id: NOT_FOUND, and this shim (which
        # serves a pod) stays
        r = c.call("ShutdownSandbox", s.ShutdownSandboxRequest(sandbox_id="nope"))
        assert r.code == NOT_FOUND, r
        assert shim.alive()
        pid = ok(c.call("StartSandbox", s.StartSandboxRequest(sandbox_id=shim.id)),
                 s.StartSandboxResponse).pid
        r = c.call("StartSandbox", s.StartSandboxRequest(sandbox_id=shim.id))
        assert r.code == FAILED_PRECONDITION, r
        # the pod's own task is not a member anyone may delete while it runs
        r = c.call("Delete", pb.task.DeleteRequest(id=shim.id), service=harness.TASK_V3)
        assert r.code == FAILED_PRECONDITION, r
        assert status(pb, c, shim.id).state == "SANDBOX_READY"
        # a parked Wait whose connection goes away is dropped cleanly
        other = shim.client()
        other.send("WaitSandbox", s.WaitSandboxRequest(sandbox_id=shim.id))
        time.sleep(0.1)
        other.close()
        ok(c.call("PingSandbox", s.PingRequest(sandbox_id=shim.id)))
        ok(c.call("StopSandbox", s.StopSandboxRequest(sandbox_id=shim.id)))
        assert not host.alive(pid)
        r = c.call("StartSandbox", s.StartSandboxRequest(sandbox_id=shim.id))
        assert r.code == FAILED_PRECONDITION, r
        ok(c.call("StopSandbox", s.StopSandboxRequest(sandbox_id=shim.id)))  # idempotent
        ok(c.call("ShutdownSandbox", s.ShutdownSandboxRequest(sandbox_id=shim.id)))
    harness.wait_until(lambda: not shim.alive(), 10, what="the shim to exit")


def test_shutdown_of_unknown_id_ends_an_empty_shim(sandboxes, pb):
    """containerd's cleanup after a failed CreateSandbox: the sandbox never
    was, the answer says so, and the shim, serving nothing, exits (a shim
    left running with no tasks was the bug this issue began with)."""
    shim = sandboxes()
    with shim.client() as c:
        r = c.call("ShutdownSandbox", pb.sandbox.ShutdownSandboxRequest(sandbox_id=shim.id))
        assert r.code == NOT_FOUND, r
    harness.wait_until(lambda: not shim.alive(), 10, what="the empty shim to exit")
