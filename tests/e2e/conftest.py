"""Session fixtures for the end-to-end suite.

One private containerd per session (see harness.Containerd), one namespace,
one locally built busybox image, one `ctr events` collector. Tests that take
the `rt` fixture run once per flavor: runtime (PODSHIM_E2E_RUNTIMES,
comma-separated, default io.containerd.podshim.v2) x OCI runtime binary
(PODSHIM_E2E_OCI, default "runc,crun").

Environment:
  PODSHIM_BIN_DIR        directory holding containerd-shim-podshim-v2 (default <repo>/build);
                         it is put first on containerd's PATH
  PODSHIM_CONTAINERD     the containerd build: "1.6" (default, the system's), "1.7.24",
                         "2.1.9" (scripts/fetch-containerd.sh) or a prefix (harness.Dist)
  PODSHIM_OCI_DIRS       OCI runtimes put before the system's on PATH (harness.Dist;
                         default crun-1.28 from 1.7 on, none for 1.6)
  PODSHIM_E2E_RUNTIMES   runtimes to test
  PODSHIM_E2E_OCI        OCI runtime binaries to test under each runtime
  PODSHIM_ASAN_LOG_DIR   if set, sanitizer reports of the shim go there and any
                         report fails the test during which it appeared
  PODSHIM_E2E_TIMEOUT    per-test limit in seconds (default 120; a test marked
                         time_limit(N) gets N if that is longer)
  PODSHIM_E2E_KEEP       keep the temp dir (for debugging)
"""

import itertools
import os
import shutil
import signal
import time

import pytest

import harness
import ociimage

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PODSHIM = "io.containerd.podshim.v2"
RUNC_V2 = "io.containerd.runc.v2"


def _env_list(name, default):
    return [x.strip() for x in os.environ.get(name, default).split(",") if x.strip()]


class Flavor:
    """A runtime (containerd shim) paired with the OCI runtime binary it drives."""

    def __init__(self, runtime, oci):
        self.runtime = runtime
        self.oci = oci
        self.podshim = runtime == PODSHIM
        self.shim_binary = harness.SHIM_BINARIES.get(
            runtime, "containerd-shim-%s-%s" % tuple(runtime.rsplit(".", 2)[-2:]))

    @property
    def id(self):
        short = {PODSHIM: "podshim", RUNC_V2: "runcv2"}.get(self.runtime, self.runtime)
        return "%s-%s" % (short, self.oci)


def pytest_configure(config):
    """The containerd build under test and its OCI runtimes go first on this
    process's PATH too, so what a test runs itself (runc, crun, ctr) is
    what containerd and the shims run."""
    try:
        d = harness.dist()
    except AssertionError as e:
        raise pytest.UsageError(str(e)) from None
    path = d.path_dirs() + [p for p in os.environ.get("PATH", "").split(os.pathsep)
                            if p not in d.path_dirs()]
    os.environ["PATH"] = os.pathsep.join(path)


def pytest_report_header(config):
    return "podshim e2e against %r" % harness.dist()


def pytest_generate_tests(metafunc):
    if "flavor" in metafunc.fixturenames:
        flavors = [Flavor(r, o) for r in _env_list("PODSHIM_E2E_RUNTIMES", PODSHIM)
                   for o in _env_list("PODSHIM_E2E_OCI", "runc,crun")]
        metafunc.parametrize("flavor", flavors, ids=[f.id for f in flavors], scope="session")


# ------------------------------------------------------------ session fixtures


def _asan_reports(d):
    if not d or not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, f) for f in os.listdir(d)
                  if f.startswith(("asan", "ubsan", "lsan")))


def _format_reports(paths):
    out = []
    for p in paths:
        with open(p, errors="replace") as f:
            out.append("==== %s ====\n%s" % (p, f.read()[:20000]))
    return "\n".join(out)


@pytest.fixture(scope="session")
def bin_dir():
    return os.path.abspath(os.environ.get("PODSHIM_BIN_DIR", os.path.join(REPO, "build")))


@pytest.fixture(scope="session")
def asan_log_dir():
    d = os.environ.get("PODSHIM_ASAN_LOG_DIR")
    return os.path.abspath(d) if d else None


@pytest.fixture(scope="session")
def containerd(request, bin_dir, asan_log_dir):
    """The private containerd. An indirect param (a dict) may set cri=True and
    extra_config (TOML appended to config.toml, e.g. CRI runtime handlers)."""
    opts = getattr(request, "param", None) or {}
    cd = harness.Containerd(bin_dir, cri=opts.get("cri", False), asan_log_dir=asan_log_dir,
                            extra_config=opts.get("extra_config", ""))
    try:
        cd.start()
    except Exception:
        cd.stop()
        if not os.environ.get("PODSHIM_E2E_KEEP"):
            cd.remove()
        raise
    yield cd
    cd.stop()
    left = cd.unmount_leftovers()
    if os.environ.get("PODSHIM_E2E_KEEP"):
        print("\nkept %s" % cd.dir)
    else:
        cd.remove()
    assert not left, "mounts left below %s after containerd stopped: %s" % (cd.dir, left)


@pytest.fixture(scope="session")
def namespace():
    return "e2e-%d" % os.getpid()


@pytest.fixture(scope="session")
def ctr(containerd, namespace, asan_log_dir):
    c = containerd.ctr(namespace)
    yield c
    c.cleanup_namespace()
    # every shim of our namespace must be gone once nothing is left in it
    lingering = {}
    for b in harness.SHIM_BINARIES.values():
        try:
            harness.wait_until(lambda: not harness.shim_processes(b, namespace), 5)
        except AssertionError:
            lingering[b] = harness.shim_processes(b, namespace)
    for pids in lingering.values():
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    # runc and crun leave their (empty) state root for the namespace behind
    try:
        os.rmdir(os.path.join("/run/containerd/runc", namespace))
    except OSError:
        pass
    reports = _asan_reports(asan_log_dir)
    assert not lingering, "shim processes outlived all tasks: %s" % lingering
    assert not reports, "sanitizer reports:\n" + _format_reports(reports)


@pytest.fixture(scope="session")
def image(containerd, ctr):
    """Name of the busybox image, built locally and imported once per session."""
    tar = os.path.join(containerd.dir, "busybox-oci.tar")
    if not os.path.exists(tar):
        name = ociimage.build_archive(tar)
    else:
        name = ociimage.DEFAULT_NAME
    ctr("images", "import", "--all-platforms", tar, timeout=120)
    out = ctr("images", "ls", "-q").stdout.split()
    assert name in out, "imported image %s not listed: %s" % (name, out)
    return name


@pytest.fixture(scope="session")
def events(ctr):
    ev = harness.EventCollector(ctr)
    # the subscription is live once ctr has connected; give it a moment and
    # prove it with a namespace label change, which publishes an event
    time.sleep(0.2)
    ctr("namespaces", "create", ctr.namespace, check=False)
    ctr("namespaces", "label", ctr.namespace, "e2e=1")
    ev.wait_for(lambda evs: any(e.topic.startswith("/namespace") for e in evs), 10,
                what="namespace update event (is `ctr events` subscribed?)")
    yield ev
    ev.close()


_ids = itertools.count(1)
_barriers = itertools.count(1)


class Runtime:
    """Per-test view of one flavor: ctr run arguments, ids, leak checks."""

    def __init__(self, flavor, containerd, ctr, image, events, asan_log_dir=None):
        self.flavor = flavor
        self.containerd = containerd
        self.ctr = ctr
        self.image = image
        self.events = events
        self.runtime = flavor.runtime
        self.podshim = flavor.podshim
        # ctr leaves the fifos of detached tasks and execs behind: keep them
        # in our temp dir rather than in /run/containerd/fifo
        self.fifo_dir = os.path.join(containerd.dir, "fifo")
        self.asan_log_dir = asan_log_dir

    def event_barrier(self):
        """Returns once every event containerd published before the call
        has reached self.events: a namespace label update published now
        travels the same exchange to the same subscriber, in order, behind
        them."""
        mark = "%d-%d" % (os.getpid(), next(_barriers))
        self.ctr("namespaces", "label", self.ctr.namespace, "podshim-barrier=%s" % mark)
        self.events.wait_for(
            lambda evs: any(e.topic == "/namespaces/update"
                            and (e.get("labels") or {}).get("podshim-barrier") == mark
                            for e in evs), 15, what="event barrier %s" % mark)

    def settled(self, cid, timeout=15):
        """No event about cid can still arrive: its shim is gone and an
        event barrier has passed everything containerd got from it."""
        harness.wait_until(lambda: not self.shims(cid), timeout,
                           what="shim of %s to exit (pids %s)" % (cid, self.shims(cid)))
        self.event_barrier()

    def drops_queued_events(self):
        """Why this shim may exit without forwarding the events it queued
        right before Shutdown (harness.drops_queued_events), or None."""
        return harness.drops_queued_events(self.runtime, self.containerd.dist)

    def leaves_group_socket(self):
        """Why this shim leaves a group's socket behind on exit
        (harness.leaves_group_socket), or None."""
        return harness.leaves_group_socket(self.runtime, self.containerd.dist)

    def new_id(self, prefix):
        return "%s-%s-%d" % (prefix, self.flavor.id, next(_ids))

    def config_file(self, binary):
        """A podshim config file (src/task/options.h format) naming binary."""
        path = os.path.join(self.containerd.dir, "podshim-%s.toml"
                            % binary.strip("/").replace("/", "_"))
        with open(path, "w") as f:
            f.write("# written by tests/e2e/conftest.py\nBinaryName = \"%s\"\n" % binary)
        return path

    def run_args(self, binary=None):
        """Arguments for `ctr run` selecting our runtime and OCI binary."""
        binary = binary or self.flavor.oci
        args = ["--runtime", self.runtime]
        if binary == "runc":
            return args  # both shims default to runc
        if self.podshim:
            return args + ["--runtime-config-path", self.config_file(binary)]
        if self.runtime == RUNC_V2:
            return args + ["--runc-binary", binary]
        pytest.skip("no way to select OCI binary %s for %s" % (binary, self.runtime))

    def socket(self, cid):
        return harness.socket_path(self.containerd.address, self.ctr.namespace, cid)

    def shims(self, cid=None):
        return harness.shim_processes(self.flavor.shim_binary, self.ctr.namespace, cid)

    def shim_environ(self, cid):
        """Environment of the (single) shim serving cid, as a dict."""
        pids = self.shims(cid)
        assert len(pids) == 1, "expected one shim for %s, found %s" % (cid, pids)
        with open("/proc/%d/environ" % pids[0], "rb") as f:
            pairs = [e.decode(errors="replace").split("=", 1)
                     for e in f.read().split(b"\0") if b"=" in e]
        return dict(pairs)

    def leftover_mounts(self, cid):
        found = []
        for d in (self.containerd.root, self.containerd.state):
            found += harness.mounts_under(d, contains="/%s/%s" % (self.ctr.namespace, cid))
        return found

    def assert_gone(self, cid, timeout=10):
        """After the task is removed: no shim, no shim socket, no mounts."""
        harness.wait_until(lambda: not self.shims(cid), timeout,
                           what="shim for %s to exit (pids %s)" % (cid, self.shims(cid)))
        sock = self.socket(cid)
        harness.wait_until(lambda: not os.path.exists(sock), timeout,
                           what="shim socket %s to be removed" % sock)
        assert not self.leftover_mounts(cid), self.leftover_mounts(cid)

    def remove(self, cid):
        """Force-remove task and container; used by tests' cleanup."""
        self.ctr("task", "kill", "-a", "-s", "SIGKILL", cid, check=False, timeout=10)
        self.ctr("task", "rm", "-f", cid, check=False, timeout=15)
        self.ctr("containers", "rm", cid, check=False, timeout=15)


def _crun_hybrid_blocker():
    """crun (1.8) refuses a hybrid cgroup host whose unified hierarchy still
    holds controllers; scripts/prepare-host.sh binds them to v1 as systemd's
    hybrid mode does. Returns why crun cannot run here, or None."""
    try:
        with open("/sys/fs/cgroup/unified/cgroup.controllers") as f:
            held = f.read().split()
    except OSError:
        return None  # pure v1 or pure v2
    if held:
        return ("crun cannot run on this hybrid cgroup host: the unified hierarchy holds "
                "controllers %s; run scripts/prepare-host.sh (as root) first" % held)
    return None


@pytest.fixture
def rt(flavor, bin_dir, containerd, ctr, image, events, asan_log_dir):
    if flavor.podshim and not os.access(os.path.join(bin_dir, flavor.shim_binary), os.X_OK):
        pytest.fail("%s not found in PODSHIM_BIN_DIR=%s (build it first)"
                    % (flavor.shim_binary, bin_dir))
    if flavor.oci != "runc" and not shutil.which(flavor.oci):
        pytest.fail("OCI runtime %s not installed" % flavor.oci)
    if flavor.oci == "crun":
        blocker = _crun_hybrid_blocker()
        if blocker:
            pytest.fail(blocker)
    return Runtime(flavor, containerd, ctr, image, events, asan_log_dir)


# ------------------------------------------------------ per-test guard rails


class E2ETimeout(Exception):
    pass


@pytest.fixture(autouse=True)
def _guard(request, asan_log_dir):
    """Per-test time limit (SIGALRM) and per-test sanitizer report check."""
    limit = int(os.environ.get("PODSHIM_E2E_TIMEOUT", "120"))
    marker = request.node.get_closest_marker("time_limit")
    if marker:
        limit = max(limit, int(marker.args[0]))

    def on_alarm(signum, frame):
        raise E2ETimeout("test exceeded %ss (PODSHIM_E2E_TIMEOUT)" % limit)

    before = set(_asan_reports(asan_log_dir))
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(limit)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    new = [p for p in _asan_reports(asan_log_dir) if p not in before]
    assert not new, "sanitizer reports appeared during this test:\n" + _format_reports(new)


_CD_KEY = pytest.StashKey[harness.Containerd]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    cd = item.session.config.stash.get(_CD_KEY, None)
    item._e2e_log_offset = cd.log_size() if cd else 0
    yield


@pytest.fixture(scope="session", autouse=True)
def _register_containerd(request, containerd):
    request.config.stash[_CD_KEY] = containerd
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    cd = item.session.config.stash.get(_CD_KEY, None)
    if cd is not None:
        text = cd.log_since(getattr(item, "_e2e_log_offset", 0))
        if len(text) > 30000:
            text = "...\n" + text[-30000:]
        rep.sections.append(("containerd log during this test", text))
    ev = item.funcargs.get("events") if hasattr(item, "funcargs") else None
    if ev is not None:
        rep.sections.append(("events (last 40)", "\n".join(ev.raw[-40:])))


# ------------------------------------------------------------ CRI (pods)
#
# test_pods.py drives containerd's CRI plugin with a gRPC client (see
# cri/__init__.py). It gets its own CRI-enabled containerd (cri/env.py) with
# one runtime handler per shim, and runs once per handler:
#   PODSHIM_CRI_HANDLERS   comma-separated handlers (default "runc,podshim"; under
#                          containerd 2.x also "podshim-sb", podshim as the pod's
#                          sandboxer, whose host-network tests skip below 2.3:
#                          they crash containerd 2.1, containerd#12983)
#   PODSHIM_CRI_BRIDGE     bridge the CNI plugin creates (default psbr<pid>)
#   PODSHIM_CRI_SUBNET     pod subnet on that bridge (default: the first of
#                          10.88.77-126.0/24 that no host route overlaps)


@pytest.fixture(scope="session")
def cri_env(bin_dir, asan_log_dir):
    """The private CRI containerd, images imported, CNI configured."""
    from cri import env as cri_env_mod

    env = cri_env_mod.CriEnv(bin_dir, asan_log_dir)
    try:
        env.start()
    except BaseException:
        env.teardown()
        raise
    yield env
    problems = env.teardown()
    assert not problems, "CRI environment did not tear down cleanly:\n" + "\n".join(problems)


@pytest.fixture(scope="session",
                params=_env_list("PODSHIM_CRI_HANDLERS", "runc,podshim"))
def cri_handler(request, bin_dir):
    """A CRI runtime handler name: "runc" (reference), "podshim", or under
    containerd 2.x "podshim-sb" (podshim as the pod's sandboxer)."""
    handler = request.param
    if handler.startswith("podshim") and not os.access(
            os.path.join(bin_dir, harness.SHIM_BINARIES[PODSHIM]), os.X_OK):
        pytest.fail("%s not found in PODSHIM_BIN_DIR=%s (build it first)"
                    % (harness.SHIM_BINARIES[PODSHIM], bin_dir))
    return handler


@pytest.fixture
def pods(cri_env, cri_handler):
    """A PodFactory for this test's handler; its pods are removed afterwards.
    The CRI containerd's log for the test is printed on teardown, which
    pytest shows only when the test failed."""
    from cri import pods as cri_pods

    with cri_pods.factory_for_test(cri_env, cri_handler) as factory:
        yield factory


# ------------------------------------------------- fault injection and soak
#
# test_faults.py and test_soak.py are about the shim, not the OCI binary, so
# they run once per runtime (PODSHIM_E2E_RUNTIMES) with runc only; the soak
# is podshim's alone.


def _require_shim_binary(flavor, bin_dir):
    if flavor.podshim and not os.access(os.path.join(bin_dir, flavor.shim_binary), os.X_OK):
        pytest.fail("%s not found in PODSHIM_BIN_DIR=%s (build it first)"
                    % (flavor.shim_binary, bin_dir))


@pytest.fixture(params=[Flavor(r, "runc") for r in _env_list("PODSHIM_E2E_RUNTIMES", PODSHIM)],
                ids=lambda f: f.id)
def rt_runc(request, bin_dir, containerd, ctr, image, events, asan_log_dir):
    """Like rt, for every runtime under test but with runc only."""
    _require_shim_binary(request.param, bin_dir)
    return Runtime(request.param, containerd, ctr, image, events, asan_log_dir)


@pytest.fixture(scope="session")
def podshim_rt(bin_dir, containerd, ctr, image, events, asan_log_dir):
    """podshim driving runc, whatever PODSHIM_E2E_RUNTIMES says (session
    scoped, so a module may keep one shim across its tests)."""
    flavor = Flavor(PODSHIM, "runc")
    _require_shim_binary(flavor, bin_dir)
    return Runtime(flavor, containerd, ctr, image, events, asan_log_dir)


@pytest.fixture(scope="session")
def make_runtime(asan_log_dir):
    """make(flavor, containerd, ctr, image, events) -> Runtime, for tests
    that bring a containerd of their own (one they crash and restart)."""
    def make(flavor, cd, c, img, ev):
        return Runtime(flavor, cd, c, img, ev, asan_log_dir)
    return make
