"""Security posture of a live shim (docs/security.md), checked from outside.

Each runtime (podshim, and containerd's runc-v2 shim as the reference) gets
one long-lived task, created through the private containerd with the OCI
runtime replaced by a recording wrapper (a small Python program that notes
what it inherited, then execs the real runc). The checks:

  - every fd of the shim above stdio is close-on-exec (/proc/<pid>/fdinfo),
    with a connection, a running exec and its stdio open;
  - the runtime is exec'd directly by the shim (no shell in between), with
    argv, stdio only (no leaked fd) and PDEATHSIG=SIGKILL;
  - the socket is mode 0600, owned by root, in a directory no one but root
    can search;
  - another uid cannot talk to the shim: a plain unprivileged process is
    stopped by the file modes, and one that gets past them (root's fsuid, an
    unprivileged euid, so SO_PEERCRED says 65534) is disconnected unanswered,
    while the same request from root is answered (positive control);
  - the shim's oom_score_adj is containerd's + 1;
  - podshim: ShimCgroup (TOML config) puts the shim daemon in that cgroup.
"""

import json
import os
import shutil
import stat
import subprocess
import time
import textwrap

import pytest

import harness
import ttrpc_client as tc

PODSHIM = "io.containerd.podshim.v2"
RUNC_V2 = "io.containerd.runc.v2"
RUNNING = 2
O_CLOEXEC = 0o2000000
CONTAINERD_OOM = 300  # containerd's score while the shims start (raised: lowering needs
# CAP_SYS_RESOURCE, which the test host may lack); the shim must follow it
NOBODY = 65534
LOOP = "trap 'exit 0' TERM; while :; do sleep 0.1; done"

WRAPPER = textwrap.dedent("""\
    #!/usr/bin/python3 -I
    # Records what the shim handed the OCI runtime, then becomes runc.
    import ctypes, json, os, sys

    fds = {}
    for n in os.listdir("/proc/self/fd"):
        try:
            fds[n] = os.readlink("/proc/self/fd/" + n)
        except OSError:
            pass  # the directory fd listdir used, already closed
    sig = ctypes.c_int(-1)
    ctypes.CDLL(None).prctl(2, ctypes.byref(sig), 0, 0, 0)  # PR_GET_PDEATHSIG
    try:
        parent = os.readlink("/proc/%%d/exe" %% os.getppid())
    except OSError:
        parent = "?"
    rec = {"argv": sys.argv[1:], "fds": fds, "pdeathsig": sig.value, "parent": parent}
    with open(%(log)r, "a") as f:
        f.write(json.dumps(rec) + "\\n")
    os.execv(%(runc)r, [%(runc)r] + sys.argv[1:])
    """)

# Runs in a child python as root; argv: socket path, mode, request frame (hex).
PEER = textwrap.dedent("""\
    import ctypes, errno, os, socket, sys
    path, mode, req = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3])
    if mode == "nobody":
        os.setgroups([])
        os.setresgid(65534, 65534, 65534)
        os.setresuid(65534, 65534, 65534)
    elif mode == "fsuid-root":
        # euid 65534 (what SO_PEERCRED reports) but fsuid 0, which brings
        # back the file capabilities: the path and the socket's mode allow us
        os.setresuid(0, 65534, 0)
        ctypes.CDLL(None, use_errno=True).setfsuid(0)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # no expected outcome is a timeout: a long one only spares a slow
    # (emulated) guest a false failure
    s.settimeout(20)
    try:
        s.connect(path)
    except PermissionError:
        print("EACCES")
        sys.exit(0)
    try:
        s.sendall(req)
        data = s.recv(65536)
    except (ConnectionResetError, BrokenPipeError):
        data = b""
    except socket.timeout:
        print("TIMEOUT")
        sys.exit(0)
    print("REPLY" if data else "CLOSED")
    """)


class SecTask:
    def __init__(self, runtime, cid, pid, bundle, endpoint, shim_pid, log, wrapper):
        self.runtime = runtime
        self.cid = cid
        self.pid = pid
        self.bundle = bundle
        self.socket = endpoint.socket
        self.service = endpoint.service
        self.shim_pid = shim_pid
        self.log = log
        self.wrapper = wrapper

    def records(self):
        with open(self.log) as f:
            return [json.loads(line) for line in f if line.strip()]


def _containerd_oom(containerd, value=None):
    path = "/proc/%d/oom_score_adj" % containerd.proc.pid
    if value is not None:
        with open(path, "w") as f:
            f.write(str(value))
    with open(path) as f:
        return int(f.read())


@pytest.fixture(scope="module", params=["podshim", "runcv2"])
def task(request, bin_dir, containerd, ctr, image):
    runtime = PODSHIM if request.param == "podshim" else RUNC_V2
    if runtime == PODSHIM and not os.access(
            os.path.join(bin_dir, harness.SHIM_BINARIES[PODSHIM]), os.X_OK):
        pytest.fail("containerd-shim-podshim-v2 not found in PODSHIM_BIN_DIR=%s" % bin_dir)
    runc = shutil.which("runc")
    assert runc, "runc not on PATH"
    d = os.path.join(containerd.dir, "sec-%s" % request.param)
    os.makedirs(d, exist_ok=True)
    log = os.path.join(d, "runtime.log")
    wrapper = os.path.join(d, "runc-wrapper")
    with open(wrapper, "w") as f:
        f.write(WRAPPER % {"log": log, "runc": runc})
    os.chmod(wrapper, 0o755)
    if runtime == PODSHIM:
        conf = os.path.join(d, "runtime.toml")
        with open(conf, "w") as f:
            f.write('BinaryName = "%s"\n' % wrapper)
        opts = ["--runtime-config-path", conf]
    else:
        opts = ["--runc-binary", wrapper]
    cid = "sec-%s-%d" % (request.param, os.getpid())
    saved = _containerd_oom(containerd)
    _containerd_oom(containerd, CONTAINERD_OOM)
    try:
        ctr("run", "-d", "--fifo-dir", os.path.join(containerd.dir, "fifo"), "--runtime",
            runtime, *opts, image, cid, "sh", "-c", LOOP)
    finally:
        _containerd_oom(containerd, saved)
    try:
        ctr.wait_status(cid, "RUNNING")
        pid = ctr.task_list()[cid][0]
        bundle = os.path.join(containerd.state, "io.containerd.runtime.v2.task", ctr.namespace,
                              cid)
        ep = harness.ShimEndpoint(bundle)
        shims = harness.shim_processes(harness.SHIM_BINARIES[runtime], ctr.namespace, cid)
        assert len(shims) == 1, shims
        yield SecTask(runtime, cid, pid, bundle, ep, shims[0], log, wrapper)
    finally:
        ctr("task", "kill", "-a", "-s", "SIGKILL", cid, check=False, timeout=10)
        ctr("task", "rm", "-f", cid, check=False, timeout=15)
        ctr("containers", "rm", cid, check=False, timeout=15)


def _fd_flags(pid, fd):
    with open("/proc/%d/fdinfo/%d" % (pid, fd)) as f:
        for line in f:
            if line.startswith("flags:"):
                return int(line.split()[1], 8)
    raise AssertionError("no flags in fdinfo of fd %d" % fd)


def _shim_fds(pid):
    out = {}
    for n in os.listdir("/proc/%d/fd" % pid):
        try:
            out[int(n)] = (os.readlink("/proc/%d/fd/%s" % (pid, n)), _fd_flags(pid, int(n)))
        except (OSError, AssertionError):
            pass  # closed meanwhile
    return out


def test_shim_fds_are_cloexec(task, ctr, containerd):
    """With a client connected and an exec running (stdio pipes, fifos), no
    shim fd above 2 would survive an exec."""
    eid = "sec-exec"
    fifo_dir = os.path.join(containerd.dir, "fifo")
    p = subprocess.Popen(ctr.argv("task", "exec", "--fifo-dir", fifo_dir, "--exec-id", eid,
                                  task.cid, "sleep", "30"),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        harness.wait_until(lambda: any(r["argv"] and "exec" in r["argv"]
                                       for r in task.records()), 15, what="runc exec")
        with tc.Client(task.socket, timeout=5, service=task.service) as c:
            r = c.state(task.cid)
            assert r.code == tc.OK, r
            time.sleep(0.3)  # the exec's stdio is set up once runc exec has run
            fds = _shim_fds(task.shim_pid)
    finally:
        p.kill()
        p.wait(timeout=10)
    leaky = {fd: v for fd, v in fds.items() if fd > 2 and not v[1] & O_CLOEXEC}
    msg = "shim %d fds without O_CLOEXEC: %s" % (task.shim_pid, leaky)
    # podshim's contract; runc-v2 keeps its cgroup v2 OOM watch's inotify fd
    # without O_CLOEXEC (printed there, not asserted)
    assert not leaky or task.runtime != PODSHIM, msg
    if leaky:
        print("reference: " + msg)
    # positive control: the listener and our connection are among those checked
    socks = [fd for fd, v in fds.items() if fd > 2 and v[0].startswith("socket:")]
    assert len(socks) >= 2, fds


def test_runtime_exec_direct_with_stdio_only(task):
    recs = task.records()
    cmds = {r["argv"][i] for r in recs for i in range(len(r["argv"]))
            if r["argv"][i] in ("create", "start", "exec", "state", "kill", "delete")}
    assert {"create", "start"} <= cmds, recs
    binary = harness.SHIM_BINARIES[task.runtime]
    bad = []
    for r in recs:
        extra = {fd: t for fd, t in r["fds"].items()
                 if int(fd) > 2 and t != task.wrapper and not t.startswith("/proc/")}
        # (the reference leaks the listener containerd handed it as fd 3,
        # not close-on-exec until Go's GC closes it, into its first runc
        # create: compared for podshim only)
        if extra and task.runtime == PODSHIM:
            bad.append(("leaked fds", r["argv"], extra))
        if r["pdeathsig"] != 9:
            bad.append(("pdeathsig", r["argv"], r["pdeathsig"]))
        if os.path.basename(r["parent"]) != binary:
            bad.append(("not exec'd by the shim", r["argv"], r["parent"]))
    assert not bad, bad


def test_socket_file_and_dir_modes(task):
    st = os.stat(task.socket)
    assert stat.S_ISSOCK(st.st_mode), oct(st.st_mode)
    assert st.st_uid == 0, st
    assert stat.S_IMODE(st.st_mode) & 0o177 == 0, "socket mode %o" % stat.S_IMODE(st.st_mode)
    dst = os.stat(os.path.dirname(task.socket))
    assert dst.st_uid == 0, dst
    assert stat.S_IMODE(dst.st_mode) & 0o077 == 0, \
        "socket dir %s mode %o" % (os.path.dirname(task.socket), stat.S_IMODE(dst.st_mode))


def _peer(task, mode, pb):
    req = tc.frame(1, pb.ttrpc.Request(
        service=task.service, method="State",
        payload=pb.task.StateRequest(id=task.cid).SerializeToString()).SerializeToString())
    p = harness.run(["/usr/bin/python3", "-c", PEER, task.socket, mode, req.hex()], timeout=40)
    return p.stdout.strip()


def test_other_uids_cannot_talk(task):
    pb = tc.load_protos()
    assert _peer(task, "root", pb) == "REPLY"  # positive control
    assert _peer(task, "nobody", pb) == "EACCES"
    # past the file modes, SO_PEERCRED still says 65534: hung up on, unanswered
    assert _peer(task, "fsuid-root", pb) == "CLOSED"
    with tc.Client(task.socket, timeout=5, service=task.service) as c:  # and the shim still serves
        st = c.state(task.cid).decode(pb.task.StateResponse)
        assert (st.status, st.pid) == (RUNNING, task.pid), st


def test_oom_score_follows_containerd(task):
    with open("/proc/%d/oom_score_adj" % task.shim_pid) as f:
        assert int(f.read()) == CONTAINERD_OOM + 1


# ------------------------------------------------------------- ShimCgroup

def _v1_dirs(name):
    """Cgroup dirs for `name` in the v1 controller hierarchies we use."""
    return {ctrl: os.path.join("/sys/fs/cgroup", ctrl, name.lstrip("/"))
            for ctrl in ("memory", "pids") if os.path.isdir(os.path.join("/sys/fs/cgroup", ctrl))}


def _proc_cgroups(pid):
    out = {}
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            for c in ctrls.split(","):
                out[c] = path
    return out


def test_shim_cgroup(bin_dir, containerd, ctr, image):
    """podshim: ShimCgroup from the runtime config moves the shim daemon."""
    name = "/podshim-sec-%d" % os.getpid()
    dirs = _v1_dirs(name)
    if not dirs:
        pytest.skip("no v1 memory/pids hierarchy")
    for d in dirs.values():
        os.makedirs(d, exist_ok=True)
    conf = os.path.join(containerd.dir, "sec-shimcg.toml")
    with open(conf, "w") as f:
        f.write('ShimCgroup = "%s"\n' % name)
    cid = "sec-shimcg-%d" % os.getpid()
    try:
        ctr("run", "-d", "--fifo-dir", os.path.join(containerd.dir, "fifo"), "--runtime",
            PODSHIM, "--runtime-config-path", conf, image, cid, "sh", "-c", LOOP)
        ctr.wait_status(cid, "RUNNING")
        shims = harness.shim_processes(harness.SHIM_BINARIES[PODSHIM], ctr.namespace, cid)
        assert len(shims) == 1, shims
        cg = _proc_cgroups(shims[0])
        for ctrl in dirs:
            assert cg.get(ctrl) == name, (ctrl, cg)
        # the container itself is not in the shim's cgroup
        assert _proc_cgroups(ctr.task_list()[cid][0]).get("memory") != name
    finally:
        ctr("task", "kill", "-a", "-s", "SIGKILL", cid, check=False, timeout=10)
        ctr("task", "rm", "-f", cid, check=False, timeout=15)
        ctr("containers", "rm", cid, check=False, timeout=15)
        harness.wait_until(
            lambda: not harness.shim_processes(harness.SHIM_BINARIES[PODSHIM], ctr.namespace,
                                               cid), 10, what="shim to exit")
        for d in dirs.values():
            try:
                os.rmdir(d)
            except OSError:
                pass
