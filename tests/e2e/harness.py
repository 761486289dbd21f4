"""A private containerd for the end-to-end tests, and the tools to drive it.

Nothing here talks to the system containerd: the daemon gets its own root,
state, gRPC and ttrpc sockets in a short temp dir, and every ctr call names
that socket and our own namespace. Every subprocess has a timeout; a timeout
is reported as a test failure with whatever output was collected.

Which containerd: PODSHIM_CONTAINERD (see Dist) picks the build, bookworm's
1.6 in /usr/bin by default, or 1.7.24 / 2.1.9 as scripts/fetch-containerd.sh
unpacks them. The build's own containerd, ctr and containerd-shim-runc-v2
(the reference shim) are used together, and its config file is written in
the format that version reads natively (version 2 for 1.x, 3 for 2.x).
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

SOCKET_DIR = "/run/containerd/s"  # fixed in 1.6, 1.7 and 2.1 (defaults.DefaultStateDir + "/s")
# containerd 2.x's CRI: images, runtime (handlers, CNI) and the gRPC server.
# Disabled, they leave the podsandbox controller and the sandbox-controllers
# service that need them failing to load: a warning in the log, nothing else.
CRI_PLUGINS_V3 = ("io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime",
                  "io.containerd.grpc.v1.cri")
SHIM_BINARIES = {
    "io.containerd.runc.v2": "containerd-shim-runc-v2",
    "io.containerd.podshim.v2": "containerd-shim-podshim-v2",
    # the same binary under a second name: VM pods by default (src/shim/profile.h)
    "io.containerd.podshim-vm.v2": "containerd-shim-podshim-vm-v2",
}
# runtime types whose shims salt their socket's hash with the type (shim/address.h)
SALTED_RUNTIMES = ("io.containerd.podshim-vm.v2",)


class CommandFailed(AssertionError):
    pass


def vm_image(bin_dir):
    """scripts/vm-initramfs.sh's kernel, initramfs and guest root for the
    agent of bin_dir (the root holds that agent at its path here, which is
    the shim's default VMAgent: the podshim-agent beside it), as a list of
    three paths, or (None, the script's error) where no guest can be built
    (no kernel in /boot, no busybox-static)."""
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "scripts", "vm-initramfs.sh")
    env = dict(os.environ, PODSHIM_VM_AGENT=os.path.join(os.path.abspath(bin_dir),
                                                         "podshim-agent"))
    r = run(["bash", script], timeout=300, env=env, check=False)
    if r.returncode != 0:
        return None, r.stderr.strip()
    return r.stdout.split(), ""


PROBES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "probes")


def build_probe(name, out_dir):
    """Compiles tests/e2e/probes/<name>.c, static, into out_dir (a test
    binds it into a container: the images hold no compiler, and a static
    binary needs nothing of the guest's or image's libraries)."""
    out = os.path.join(out_dir, name)
    subprocess.run(["gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", out,
                    os.path.join(PROBES, name + ".c")], check=True, timeout=120)
    return out


def vm_settings(bin_dir, image, agent=True):
    """The VM keys of a podshim config file for vm_image's paths (VMAgent
    only when `agent`)."""
    kernel, initrd, root = image
    return ('VMKernel = "%s"\nVMInitrd = "%s"\nVMRoot = "%s"\n%sVMAccel = "%s"\n'
            % (kernel, initrd, root,
               'VMAgent = "%s"\n' % os.path.join(os.path.abspath(bin_dir), "podshim-agent")
               if agent else "", os.environ.get("PODSHIM_VM_ACCEL", "tcg")))


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


# ------------------------------------------------------- which containerd

# where scripts/fetch-containerd.sh unpacks containerd-X.Y.Z/
CACHE = os.environ.get("PODSHIM_CACHE", "/var/cache/podshim")
DIST_BINARIES = ("containerd", "ctr", "containerd-shim-runc-v2")


def criu_unusable():
    """Why CRIU cannot checkpoint on this machine, or None when it can: this
    host's kernel fails `criu check`; the cgroup v2 guest's passes."""
    try:
        p = run(["criu", "check"], timeout=30, check=False)
    except (OSError, AssertionError) as e:
        return "criu check could not run: %s" % e
    if p.returncode != 0:
        lines = (p.stdout + p.stderr).strip().splitlines()
        return "criu check failed (rc %d): %s" % (p.returncode, " | ".join(lines[-3:]))
    return None


class Dist:
    """The containerd build under test, from PODSHIM_CONTAINERD:

      "" or "1.6"     the system's containerd (Debian bookworm's 1.6.20, /usr/bin)
      "X.Y.Z"         $PODSHIM_CACHE/containerd-X.Y.Z (scripts/fetch-containerd.sh)
      a directory     a prefix holding usr/bin/, bin/ or the binaries themselves

    Its containerd, ctr and containerd-shim-runc-v2 (the reference shim of
    that version) live in bin_dir; Containerd puts bin_dir on the daemon's
    PATH right after PODSHIM_BIN_DIR, so the runc-v2 shim that containerd
    resolves is the version's own, not /usr/bin's."""

    def __init__(self, spec=None):
        self.spec = (os.environ.get("PODSHIM_CONTAINERD", "") if spec is None else spec).strip()
        self.system = self.spec in ("", "1.6", "system")
        if self.system:
            found = shutil.which("containerd")
            if not found:
                raise AssertionError("no containerd on PATH (scripts/install-deps.sh installs it)")
            self.bin_dir = os.path.dirname(os.path.realpath(found))
        else:
            prefix = self.spec
            if re.fullmatch(r"\d+\.\d+\.\d+", self.spec):
                prefix = os.path.join(CACHE, "containerd-" + self.spec)
            cands = [os.path.join(prefix, d) for d in ("usr/bin", "bin", "")]
            found = [d for d in cands if os.path.isfile(os.path.join(d, "containerd"))]
            if not found:
                raise AssertionError(
                    "PODSHIM_CONTAINERD=%s: no containerd in %s; fetch it with "
                    "`sudo scripts/fetch-containerd.sh containerd-%s`"
                    % (self.spec, " or ".join(cands), self.spec))
            self.bin_dir = os.path.abspath(found[0])
        missing = [b for b in DIST_BINARIES
                   if not os.access(os.path.join(self.bin_dir, b), os.X_OK)]
        if missing:
            raise AssertionError("containerd build in %s lacks %s" % (self.bin_dir, missing))
        out = run([self.containerd, "--version"], timeout=10).stdout
        m = re.search(r" v?(\d+)\.(\d+)\.(\d+)", out)
        if not m:
            raise AssertionError("cannot tell the version of %s from %r" % (self.containerd, out))
        self.version = tuple(int(x) for x in m.groups())
        self.version_text = "%d.%d.%d" % self.version
        if self.spec == "1.6" and self.version[:2] != (1, 6):
            raise AssertionError("PODSHIM_CONTAINERD=1.6 but %s is %s"
                                 % (self.containerd, self.version_text))
        self.oci_dirs = self._oci_dirs()

    def _oci_dirs(self):
        """Directories of OCI runtimes that go before the system's on PATH,
        from PODSHIM_OCI_DIRS (comma-separated; an item is a directory or a
        name scripts/fetch-containerd.sh unpacks, e.g. crun-1.28; "system"
        for none). The default is none for 1.6, sid's crun 1.28 for 1.7, and
        sid's runc 1.3.6 and crun 1.28 for 2.x: Debian's 1.7.24 writes
        runtime-spec 1.2.0 configs and 2.1.9 1.2.1, and bookworm's crun
        1.8.1 refuses anything but 1.0.x ("unknown version specified");
        bookworm's runc 1.1.5 runs them all, but 2.x's user-namespace pods
        need idmapped mounts (runc >= 1.2), and a 2.x node runs a current
        runc, so 2.x gets sid's."""
        spec = os.environ.get("PODSHIM_OCI_DIRS")
        if spec is None:
            if self.version >= (2, 0):
                spec = "runc-1.3.6,crun-1.28"
            elif self.version >= (1, 7):
                spec = "crun-1.28"
            else:
                spec = "system"
        dirs = []
        for item in (x.strip() for x in spec.split(",")):
            if item in ("", "system"):
                continue
            d = item if os.path.isabs(item) else os.path.join(CACHE, item)
            if os.path.isdir(os.path.join(d, "usr/bin")):
                d = os.path.join(d, "usr/bin")
            if not os.path.isdir(d):
                raise AssertionError(
                    "PODSHIM_OCI_DIRS: no %s; fetch it with `sudo scripts/fetch-containerd.sh %s`"
                    % (d, item))
            dirs.append(d)
        return dirs

    def path_dirs(self):
        """What goes before the inherited PATH, for containerd, the shims
        it starts and the tests alike: the OCI runtimes of oci_dirs, then
        this build's bin_dir (its containerd-shim-runc-v2 before /usr/bin's)."""
        return self.oci_dirs + ([] if self.system else [self.bin_dir])

    @property
    def containerd(self):
        return os.path.join(self.bin_dir, "containerd")

    @property
    def ctr(self):
        return os.path.join(self.bin_dir, "ctr")

    @property
    def runc_shim(self):
        """This version's containerd-shim-runc-v2: the reference shim."""
        return os.path.join(self.bin_dir, "containerd-shim-runc-v2")

    @property
    def v2(self):
        """containerd 2.x: config version 3, split CRI plugins, task API v3."""
        return self.version[0] >= 2

    def __repr__(self):
        return "containerd %s (%s%s)" % (self.version_text, self.bin_dir,
                                         "".join(", " + d for d in self.oci_dirs))


_dist = None


def dist():
    """The Dist of PODSHIM_CONTAINERD, made once per process."""
    global _dist
    if _dist is None:
        _dist = Dist()
    return _dist


def toml_str(s):
    """A TOML literal string (no escapes; none of our paths has a quote)."""
    assert "'" not in s and "\n" not in s, s
    return "'%s'" % s


# ---------------------------------------------------------------- containerd


class Containerd:
    """An isolated containerd daemon. start() / stop(); address is its socket."""

    def __init__(self, bin_dir, cri=False, asan_log_dir=None, debug=True, base=None,
                 extra_config="", dist_=None):
        self.bin_dir = os.path.abspath(bin_dir)
        self.dist = dist_ or dist()
        self.cri = cri
        self.extra_config = extra_config  # appended to config.toml (e.g. CRI tables)
        self.extra_env = {}  # added to the daemon's environment, which its shims inherit
        self.asan_log_dir = asan_log_dir
        self.debug = debug
        # unix socket paths must stay below 108 bytes: keep the prefix short
        self.dir = tempfile.mkdtemp(prefix="pse2e-", dir=base or "/tmp")
        os.chmod(self.dir, 0o711)
        self.root = os.path.join(self.dir, "root")
        self.state = os.path.join(self.dir, "state")
        self.state_tmpfs = os.environ.get("PODSHIM_E2E_STATE_TMPFS") == "1"
        if self.state_tmpfs:
            # containerd's state on tmpfs, as /run is on production hosts
            # (here /run is on the root disk): for benchmarks that want the
            # production file system under the bundles; remove() unmounts it
            # (it is ours, not a leftover)
            os.mkdir(self.state, 0o711)
            run(["mount", "-t", "tmpfs", "-o", "mode=0711", "podshim-e2e-state", self.state],
                timeout=10)
        self.address = os.path.join(self.dir, "c.sock")
        self.ttrpc_address = self.address + ".ttrpc"
        self.config_path = os.path.join(self.dir, "config.toml")
        self.log_path = os.path.join(self.dir, "containerd.log")
        self.proc = None
        self._log = None

    def config_text(self):
        return (self._config_v3() if self.dist.v2 else self._config_v2()) + self.extra_config

    def log_level(self):
        """debug on 1.6; trace from 1.7 on, where the event exchange logs
        "event published" / "event forwarded" (which tests read to tell a
        shim's Forward from containerd's own publish) at trace level."""
        if not self.debug:
            return "info"
        return "trace" if self.dist.version >= (1, 7) else "debug"

    def _config_v2(self):
        """containerd 1.6 and 1.7: config version 2, one CRI plugin."""
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
            '  level = "%s"' % self.log_level(),
            "",
            '[plugins."io.containerd.grpc.v1.cri".containerd]',
            '  snapshotter = "overlayfs"',
            "",
        ]
        return "\n".join(lines)

    def _config_v3(self):
        """containerd 2.x: config version 3 as an operator writes it (2.x
        would migrate a version 2 file, but that is not what it documents).
        CRI is three plugins there (images, runtime, the gRPC server); NRI
        is on by default and its socket is a host-wide path, so it moves
        into our dir: concurrent sessions each run a containerd."""
        disabled = [] if self.cri else [toml_str(p) for p in CRI_PLUGINS_V3]
        lines = [
            "version = 3",
            "root = %s" % toml_str(self.root),
            "state = %s" % toml_str(self.state),
            "disabled_plugins = [%s]" % ", ".join(disabled),
            "",
            "[grpc]",
            "  address = %s" % toml_str(self.address),
            "",
            "[ttrpc]",
            "  address = %s" % toml_str(self.ttrpc_address),
            "",
            "[debug]",
            "  level = '%s'" % self.log_level(),
            "",
            "[plugins.'io.containerd.nri.v1.nri']",
            "  socket_path = %s" % toml_str(os.path.join(self.dir, "nri.sock")),
            "",
            "[plugins.'io.containerd.cri.v1.images']",
            "  snapshotter = 'overlayfs'",
            "",
        ]
        return "\n".join(lines)

    def env(self):
        env = dict(os.environ)
        path = [self.bin_dir] + self.dist.path_dirs()
        for d in env.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(os.pathsep):
            if d not in path:
                path.append(d)
        env["PATH"] = os.pathsep.join(path)
        env.pop("NOTIFY_SOCKET", None)
        env.update(self.extra_env)
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
        self.proc = subprocess.Popen([self.dist.containerd, "--config", self.config_path],
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=self.env(),
                                     cwd=self.dir, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("containerd exited with %s during startup:\n%s"
                                     % (self.proc.returncode, self.log_tail()))
            p = run([self.dist.ctr, "-a", self.address, "version"], timeout=5, check=False)
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
        return Ctr(self.address, namespace, self.dist.ctr)

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
        left = [mp for mp in mounts_under(self.dir)
                if not (self.state_tmpfs and mp == self.state)]
        for mp in sorted(left, key=len, reverse=True):
            run(["umount", "-l", mp], timeout=10, check=False)
        return left

    def remove(self):
        self.unmount_leftovers()
        if self.state_tmpfs:
            run(["umount", "-l", self.state], timeout=10, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------- ctr


class Ctr:
    """ctr bound to one containerd socket and namespace."""

    def __init__(self, address, namespace, binary="ctr"):
        self.address = address
        self.namespace = namespace
        self.binary = binary  # the ctr of the daemon's own version

    def argv(self, *args):
        return [self.binary, "-a", self.address, "-n", self.namespace] + [str(a) for a in args]

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
        remove_namespace_cgroups(self.namespace)


def remove_namespace_cgroups(namespace):
    """The runtime makes a task's cgroup /<namespace>/<id> (ctr's default
    cgroups path) and removes the leaf only, as runc-v2's does: the parent
    stays, empty, in every hierarchy. Removed here where it is empty, so
    that test sessions do not pile them up on the host."""
    from cri import host

    for top in host.cgroup_hierarchies():
        try:
            os.rmdir(os.path.join(top, namespace))
        except OSError:
            pass


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


def drops_queued_events(runtime, dist_):
    """Why the shim of `runtime` under containerd `dist_` may exit before it
    forwarded the events it queued just before Shutdown, or None.

    containerd 2.x's runc-v2: its main returns once Shutdown's callbacks
    have run (pkg/shim/shim.go:433-437 of 2.1.9), and one of them only
    closes the channel its forwarder drains (cmd/containerd-shim-runc-v2/
    task/service.go:96-100,785-795), so the process may exit with the
    TaskDelete its Delete queued right before containerd's Shutdown
    (core/runtime/v2/shim.go:524-570) still unsent. 1.6 and 1.7 wait for
    the forwarder to finish (publisher.Done(), runtime/v2/shim/shim.go:
    462-467 of 1.6.20, :481-486 of 1.7.24). Seen in about one `ctr run
    --rm` in six here. podshim sends everything before it exits, always."""
    if runtime == "io.containerd.runc.v2" and dist_.v2:
        return ("containerd %s's runc-v2 may exit before forwarding its last events "
                "(pkg/shim/shim.go:433-437 waits for shutdown, not for its publisher)"
                % dist_.version_text)
    return None


def leaves_group_socket(runtime, dist_):
    """Why the shim of `runtime` under `dist_` leaves the socket of a group
    named other than its own -id behind when it exits, or None.

    containerd 2.x's runc-v2 removes, on exit, the `address` file's socket
    and the one derived from its own -id (pkg/shim/util_unix.go:287-300 of
    2.1.9), but its `start` no longer writes `address` (containerd writes
    bootstrap.json instead; cmd/containerd-shim-runc-v2/manager/
    manager_linux.go:183-260), so a socket named after a group key (the
    io.containerd.runc.v2.group annotation) outlives the shim. CRI pods are
    not hit: their group key is the sandbox id, the shim's own -id."""
    if runtime == "io.containerd.runc.v2" and dist_.v2:
        return ("containerd %s's runc-v2 removes only its -id's socket on exit "
                "(pkg/shim/util_unix.go:287-300), not its group's" % dist_.version_text)
    return None


def leaks_pod_shim(runtime, dist_):
    """Why the grouped shim of a CRI pod of `runtime` under `dist_` may
    outlive the pod, or None.

    containerd 2.x with runc-v2 (bootstrap version 3): a pod's container
    tasks carry a SandboxID, and containerd sends no Shutdown after their
    Delete (core/runtime/v2/shim.go:558-571, task_manager.go:236-240 of
    2.1.9); only the sandbox (pause) task's Delete does. When the pause
    task is deleted first, as the podsandbox controller does on its exit
    (internal/cri/server/podsandbox/controller.go:203-222), runc-v2 ignores
    that Shutdown because containers remain (cmd/containerd-shim-runc-v2/
    task/service.go:603-610), and nothing asks again: the shim and its
    socket outlive the pod (the containerd 2.x shim leak,
    containerd/containerd#12344). podshim, a version 2 shim, gets a
    Shutdown after every Delete (shim.go:558-561) and exits with its last
    task."""
    if runtime == "io.containerd.runc.v2" and dist_.v2:
        return ("containerd %s never shuts a version 3 runc-v2 pod shim down when the "
                "pause task is deleted before the containers (core/runtime/v2/shim.go:"
                "558-571; runc-v2 task/service.go:603-610)" % dist_.version_text)
    return None


TASK_V2 = "containerd.task.v2.Task"
TASK_V3 = "containerd.task.v3.Task"


class ShimEndpoint:
    """Where containerd talks to the shim of a task, read from the bundle as
    containerd reads it. 2.x writes bootstrap.json from the shim's `start`
    reply and reads it on restore (core/runtime/v2/binary.go:127-153,
    shim_manager.go:307-338); only without it (a 1.x bundle) does it read
    the shim's `address` file, the only source 1.6 and 1.7 know. A
    version-3 shim (2.x's own runc-v2) writes no `address` file and serves
    only containerd.task.v3.Task (cmd/containerd-shim-runc-v2/task/
    service.go:265-266); the v3 protos are v2's under another package name,
    so only the service string differs."""

    def __init__(self, bundle):
        boot = os.path.join(bundle, "bootstrap.json")
        if os.path.exists(boot):
            with open(boot) as f:
                params = json.load(f)
            self.address = params["address"]
            self.version = int(params.get("version") or 2)
            self.protocol = params.get("protocol") or "ttrpc"
        else:
            with open(os.path.join(bundle, "address")) as f:
                self.address = f.read().strip()
            self.version, self.protocol = 2, "ttrpc"
        assert self.protocol == "ttrpc", "%s: protocol %s" % (bundle, self.protocol)
        assert self.address.startswith("unix://"), self.address
        self.socket = self.address[len("unix://"):]
        self.service = TASK_V3 if self.version >= 3 else TASK_V2

    def __repr__(self):
        return "ShimEndpoint(%s v%d)" % (self.address, self.version)


def socket_path(grpc_address, namespace, group_key, runtime=None):
    """The shim socket containerd's runc-v2 (and podshim) derive for a group;
    a runtime type of SALTED_RUNTIMES is hashed after the path, behind a NUL
    (src/shim/address.h)."""
    joined = posixpath.normpath(posixpath.join(grpc_address, namespace, group_key))
    if runtime in SALTED_RUNTIMES:
        joined += "\0" + runtime
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
