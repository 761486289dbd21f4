"""A private containerd 1.6 for the end-to-end tests, and the tools to drive it.

Nothing here talks to the system containerd: the daemon gets its own root,
state, gRPC and ttrpc sockets in a short temp dir, and every ctr call names
that socket and our own namespace. Every subprocess has a timeout; a timeout
is reported as a test failure with whatever output was collected.
"""

import hashlib
import json
import os
import posixpath
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

SOCKET_DIR = "/run/containerd/s"  # fixed in containerd 1.6 (defaults.DefaultStateDir)
SHIM_BINARIES = {
    "io.containerd.runc.v2": "containerd-shim-runc-v2",
    "io.containerd.podshim.v2": "containerd-shim-podshim-v2",
}


class CommandFailed(AssertionError):
    pass


# Every harness timeout is multiplied by this: an emulated CPU (the cgroup v2
# guest of scripts/cgroup-v2-vm.sh without KVM) runs everything many times
# slower, and a timeout there is not a hang.
TIME_SCALE = float(os.environ.get("PODSHIM_E2E_TIME_SCALE", "1"))


def run(argv, timeout=30, input=None, env=None, check=True, cwd=None):
    """Run argv (never through a shell); return CompletedProcess with str output.

    A timeout kills the process group and raises CommandFailed carrying the
    partial output, so a hang turns into a failure with diagnostics."""
    timeout = timeout * TIME_SCALE if timeout else timeout
    try:
        p = subprocess.run(argv, input=input, capture_output=True, timeout=timeout,
                           env=env, cwd=cwd, start_new_session=True,
                           stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise CommandFailed("timeout after %ss: %s\nstdout: %r\nstderr: %r"
                            % (timeout, argv, e.stdout, e.stderr)) from None
    p.stdout = p.stdout.decode(errors="replace")
    p.stderr = p.stderr.decode(errors="replace")
    if check and p.returncode != 0:
        raise CommandFailed("exit %d: %s\nstdout: %s\nstderr: %s"
                            % (p.returncode, argv, p.stdout, p.stderr))
    return p


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Poll pred() until it returns a true value; return it or raise."""
    timeout *= TIME_SCALE
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


# ---------------------------------------------------------------- containerd


class Containerd:
    """An isolated containerd daemon. start() / stop(); address is its socket."""

    def __init__(self, bin_dir, cri=False, asan_log_dir=None, debug=True, base=None,
                 extra_config=""):
        self.bin_dir = os.path.abspath(bin_dir)
        self.cri = cri
        self.extra_config = extra_config  # appended to config.toml (e.g. CRI tables)
        self.asan_log_dir = asan_log_dir
        self.debug = debug
        # unix socket paths must stay below 108 bytes: keep the prefix short
        self.dir = tempfile.mkdtemp(prefix="pse2e-", dir=base or "/tmp")
        os.chmod(self.dir, 0o711)
        self.root = os.path.join(self.dir, "root")
        self.state = os.path.join(self.dir, "state")
        self.address = os.path.join(self.dir, "c.sock")
        self.ttrpc_address = self.address + ".ttrpc"
        self.config_path = os.path.join(self.dir, "config.toml")
        self.log_path = os.path.join(self.dir, "containerd.log")
        self.proc = None
        self._log = None

    def config_text(self):
        disabled = [] if self.cri else ['"io.containerd.grpc.v1.cri"']
        lines = [
            "version = 2",
            'root = "%s"' % self.root,
            'state = "%s"' % self.state,
            "disabled_plugins = [%s]" % ", ".join(disabled),
            "",
            "[grpc]",
            '  address = "%s"' % self.address,
            "",
            "[ttrpc]",
            '  address = "%s"' % self.ttrpc_address,
            "",
            "[debug]",
            '  level = "%s"' % ("debug" if self.debug else "info"),
            "",
            '[plugins."io.containerd.grpc.v1.cri".containerd]',
            '  snapshotter = "overlayfs"',
            "",
        ]
        return "\n".join(lines) + self.extra_config

    def env(self):
        env = dict(os.environ)
        env["PATH"] = self.bin_dir + os.pathsep + env.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        env.pop("NOTIFY_SOCKET", None)
        if self.asan_log_dir:
            os.makedirs(self.asan_log_dir, exist_ok=True)
            # the shim inherits containerd's environment, so it reports here
            env["ASAN_OPTIONS"] = ("log_path=%s/asan:detect_leaks=1:abort_on_error=0:"
                                   "strict_string_checks=1:detect_stack_use_after_return=1:"
                                   "check_initialization_order=1" % self.asan_log_dir)
            env["UBSAN_OPTIONS"] = ("print_stacktrace=1:halt_on_error=1:log_path=%s/ubsan"
                                    % self.asan_log_dir)
            env["LSAN_OPTIONS"] = "log_path=%s/lsan" % self.asan_log_dir
        return env

    def start(self, timeout=20):
        with open(self.config_path, "w") as f:
            f.write(self.config_text())
        self._log = open(self.log_path, "ab")
        # cwd is our dir: containerd looks for shims in its cwd first, and no
        # shim lives there, so PATH (bin_dir first) decides
        self.proc = subprocess.Popen(["containerd", "--config", self.config_path],
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=self.env(),
                                     cwd=self.dir, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("containerd exited with %s during startup:\n%s"
                                     % (self.proc.returncode, self.log_tail()))
            p = run(["ctr", "-a", self.address, "version"], timeout=5, check=False)
            if p.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise AssertionError("containerd did not answer within %ss:\n%s\n%s"
                                     % (timeout, p.stderr, self.log_tail()))
            time.sleep(0.1)

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_since(self, offset, limit=200000):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read(limit).decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, nbytes=20000):
        return self.log_since(max(0, self.log_size() - nbytes), nbytes)

    def ctr(self, namespace):
        return Ctr(self.address, namespace)

    def stop(self, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        if self._log:
            self._log.close()
            self._log = None

    def kill(self, sig=signal.SIGKILL, timeout=10):
        """Crashes the daemon: sig to containerd alone, then reap it. Shims
        run in sessions of their own and live on; sockets, root and state
        stay as a crash leaves them. Returns containerd's pid."""
        pid = self.proc.pid if self.proc else None
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)  # not killpg: only the daemon dies
            self.proc.wait(timeout=timeout)
        if self._log:
            self._log.close()
            self._log = None
        return pid

    def restart(self, timeout=20):
        """Starts the daemon again (after kill() or stop()) on the same
        config, root, state and sockets, as a supervisor would; it reloads
        its tasks and reconnects to their shims through the bundles'
        `address` files."""
        assert self.proc is None or self.proc.poll() is not None, "containerd is still running"
        self.start(timeout=timeout)

    def unmount_leftovers(self):
        """Unmount anything still mounted below our dir, deepest first."""
        left = mounts_under(self.dir)
        for mp in sorted(left, key=len, reverse=True):
            run(["umount", "-l", mp], timeout=10, check=False)
        return left

    def remove(self):
        self.unmount_leftovers()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------- ctr


class Ctr:
    """ctr bound to one containerd socket and namespace."""

    def __init__(self, address, namespace):
        self.address = address
        self.namespace = namespace

    def argv(self, *args):
        return ["ctr", "-a", self.address, "-n", self.namespace] + [str(a) for a in args]

    def __call__(self, *args, timeout=30, input=None, check=True):
        return run(self.argv(*args), timeout=timeout, input=input, check=check)

    def task_list(self):
        """{task id: (pid, status)} from `ctr task ls`."""
        out = self("task", "ls").stdout.splitlines()
        tasks = {}
        for line in out[1:]:
            f = line.split()
            if len(f) >= 3:
                tasks[f[0]] = (int(f[1]), f[2])
        return tasks

    def task_status(self, cid):
        t = self.task_list().get(cid)
        return t[1] if t else None

    def wait_status(self, cid, status, timeout=10):
        return wait_until(lambda: self.task_status(cid) == status, timeout,
                          what="task %s to be %s (is %s)" % (cid, status, self.task_status(cid)))

    def cleanup_namespace(self):
        """Best effort: kill and remove every task and container, then images."""
        for cid in self.task_list():
            self("task", "kill", "-a", "-s", "SIGKILL", cid, check=False, timeout=10)
        for cid in self.task_list():
            self("task", "rm", "-f", cid, check=False, timeout=15)
        cids = self("containers", "ls", "-q", check=False).stdout.split()
        if cids:
            self("containers", "rm", *cids, check=False, timeout=30)
        imgs = self("images", "ls", "-q", check=False).stdout.split()
        if imgs:
            self("images", "rm", "--sync", *imgs, check=False, timeout=30)
        self("namespaces", "rm", self.namespace, check=False)


# ------------------------------------------------------------------- events

_EVENT_RE = re.compile(r"^(?P<ts>.+?) (?P<ns>\S+) (?P<topic>/\S+) ?(?P<body>.*)$")


class Event:
    def __init__(self, seq, ns, topic, body):
        self.seq = seq
        self.namespace = ns
        self.topic = topic
        self.body = body

    def get(self, key, default=None):
        return self.body.get(key, default)

    def __repr__(self):
        return "Event(#%d %s %s)" % (self.seq, self.topic, json.dumps(self.body))


class EventCollector:
    """`ctr events namespace==NS` in the background; lines parsed into Events."""

    def __init__(self, ctr):
        self.cond = threading.Condition()
        self.events = []
        self.raw = []
        self.proc = subprocess.Popen(ctr.argv("events", "namespace==" + ctr.namespace),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            text = line.decode(errors="replace").rstrip("\n")
            m = _EVENT_RE.match(text)
            with self.cond:
                self.raw.append(text)
                if m:
                    try:
                        body = json.loads(m.group("body")) if m.group("body") else {}
                    except ValueError:
                        body = {"_unparsed": m.group("body")}
                    self.events.append(Event(len(self.events), m.group("ns"),
                                             m.group("topic"), body))
                self.cond.notify_all()

    def alive(self):
        return self.proc.poll() is None

    def snapshot(self):
        with self.cond:
            return list(self.events)

    def for_container(self, cid):
        return [e for e in self.snapshot() if e.get("container_id") == cid]

    def wait_for(self, pred, timeout=10, what="event"):
        """Wait until pred(list of events) is true; return its value."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                v = pred(list(self.events))
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError("timed out waiting for %s; events so far:\n%s"
                                         % (what, "\n".join(self.raw[-50:])))
                self.cond.wait(min(left, 0.2))

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.thread.join(timeout=5)


# --------------------------------------------------------- host inspection


def _cmdline(pid):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return None


def _flag(argv, name):
    """Value of a Go-style flag (-x v, --x v, -x=v) in argv, or None."""
    for i, a in enumerate(argv):
        stripped = a.lstrip("-")
        if a.startswith("-") and stripped == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("-") and stripped.startswith(name + "="):
            return stripped.split("=", 1)[1]
    return None


def shim_processes(binary, namespace, task_id=None):
    """Pids of live shim daemons named binary serving namespace (and task_id)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        argv = _cmdline(d)
        if not argv or os.path.basename(argv[0]) != binary:
            continue
        if _flag(argv, "namespace") != namespace:
            continue
        if task_id is not None and _flag(argv, "id") != task_id:
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue  # a zombie is gone for our purposes
        except OSError:
            continue
        pids.append(int(d))
    return pids


def socket_path(grpc_address, namespace, group_key):
    """The shim socket containerd's runc-v2 (and podshim) derive for a group."""
    joined = posixpath.normpath(posixpath.join(grpc_address, namespace, group_key))
    return posixpath.join(SOCKET_DIR, hashlib.sha256(joined.encode()).hexdigest())


def mounts_under(prefix, contains=None):
    """Mount points from /proc/self/mountinfo at or below prefix."""
    prefix = prefix.rstrip("/")
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].encode().decode("unicode_escape")
            if mp == prefix or mp.startswith(prefix + "/"):
                if contains is None or contains in mp:
                    found.append(mp)
    return found
