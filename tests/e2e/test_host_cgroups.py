"""A pod must not change the host's cgroup configuration (issue 15, item 3).

On a hybrid cgroup host (v1 controllers under /sys/fs/cgroup, cgroup2 at
/sys/fs/cgroup/unified) some machines boot with a controller, here hugetlb,
left on the unified hierarchy; scripts/prepare-host.sh binds it to a v1
hierarchy of its own. A shim that writes "+hugetlb" into unified's
cgroup.subtree_control (or its children's) pins the controller to cgroup2:
crun 1.8 then refuses every container on the node ("cgroups in hybrid mode
not supported, drop all controllers from cgroupv2") and prepare-host.sh can
no longer move the controller away. runc treats the unified hierarchy of a
hybrid host as membership only, and so must every shim.

These tests run once per CRI handler ("runc" is containerd's runc-v2, the
reference; "podshim" is ours) from the host's boot state, which the
`unified_boot_state` fixture produces: it gives a child-less v1 hugetlb
hierarchy back to cgroup2 (umount), and afterwards restores the state it
found (mounts hugetlb as v1 again, as prepare-host.sh does). It also undoes
whatever a misbehaving shim enabled in the unified hierarchy, bottom-up, so
later tests and crun keep working. The boot state lasts only as long as one
test: other sessions on this host need the prepared state for crun.
"""

import os
import re
import shutil

import pytest

import harness

from cri import host
from cri import pods as cri_pods

CGROUP_ROOT = "/sys/fs/cgroup"
UNIFIED = CGROUP_ROOT + "/unified"
# The controller these hosts leave on cgroup2 at boot, and where
# prepare-host.sh mounts it as v1.
BOOT_CTRL = "hugetlb"
BOOT_CTRL_V1 = CGROUP_ROOT + "/" + BOOT_CTRL
# Top-level cgroups this suite's sessions leave in every v1 hierarchy (ctr
# namespaces, the CRI cgroup parent, test_security's), named after the
# pytest pid: once that process is gone they are leftovers.
SESSION_CGROUP = re.compile(r"^(e2e|faults|pse2e|podshim-sec)-([0-9]+)$")
# bench/'s ctr namespace: left behind too, removed only while empty
BENCH_CGROUP = "bench"
PREPARE_HOST = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "scripts", "prepare-host.sh")


def _words(path):
    try:
        with open(path) as f:
            return f.read().split()
    except OSError:
        return []


def _held():
    """The controllers the unified hierarchy holds (cgroup.controllers)."""
    return _words(os.path.join(UNIFIED, "cgroup.controllers"))


def _v1_controllers_at(mount_point):
    """The controllers of the cgroup v1 hierarchy mounted at mount_point
    (from its super options), or None if none is mounted there."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.rstrip("\n").partition(" - ")
            fields, tail = pre.split(), post.split()
            if len(fields) >= 5 and fields[4] == mount_point and tail and tail[0] == "cgroup":
                return set(tail[2].split(",")) if len(tail) > 2 else set()
    return None


def _known_controllers():
    """Controller names from /proc/cgroups."""
    with open("/proc/cgroups") as f:
        return {line.split()[0] for line in f if line.strip() and not line.startswith("#")}


def _v1_cgroup_count(ctrl):
    """num_cgroups of ctrl's hierarchy in /proc/cgroups (dying ones count)."""
    with open("/proc/cgroups") as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] == ctrl:
                return int(fields[2])
    return None


def _child_cgroups(top):
    return sorted(d for d in os.listdir(top) if os.path.isdir(os.path.join(top, d)))


def _enabled(dirs):
    """{dir: controllers} for each of dirs whose cgroup.subtree_control is
    not empty."""
    out = {}
    for d in dirs:
        ctl = _words(os.path.join(d, "cgroup.subtree_control"))
        if ctl:
            out[d] = ctl
    return out


def _tree(top):
    """top and every cgroup below it, deepest first."""
    out = []
    for root, dirs, _ in os.walk(top, topdown=False):
        out += [os.path.join(root, d) for d in dirs]
    return out + [top]


def _disable_all(top):
    """Writes "-<ctrl>" for every controller enabled in top's subtree,
    bottom-up (a parent cannot drop what a child still enables). Returns
    what it disabled, as ["dir: ctrl", ...]."""
    done = []
    for d, ctrls in _enabled(_tree(top)).items():
        for c in ctrls:
            try:
                with open(os.path.join(d, "cgroup.subtree_control"), "w") as f:
                    f.write("-" + c)
                done.append("%s: %s" % (d, c))
            except OSError as e:
                done.append("%s: %s NOT disabled (%s)" % (d, c, e))
    return done


def _rmdir_tree(top):
    """rmdir top and the cgroups below it, deepest first; a cgroup in use
    stays."""
    if not os.path.isdir(top):
        return
    for d in _tree(top):
        try:
            os.rmdir(d)
        except OSError:
            pass


def _remove_dead_sessions_cgroups(top):
    """Removes the empty cgroups that finished sessions of this suite left
    below top (their pytest process is gone), and bench/'s if it has no
    child; returns their names."""
    gone = []
    try:
        os.rmdir(os.path.join(top, BENCH_CGROUP))
        gone.append(BENCH_CGROUP)
    except OSError:
        pass
    for name in os.listdir(top):
        m = SESSION_CGROUP.match(name)
        if not m or not os.path.isdir(os.path.join(top, name)) or \
                os.path.exists("/proc/%s" % m.group(2)):
            continue
        _rmdir_tree(os.path.join(top, name))
        if not os.path.exists(os.path.join(top, name)):
            gone.append(name)
    return gone


def _path_dirs(cgroups_path):
    """The unified hierarchy's root and each directory on cgroups_path."""
    dirs, cur = [UNIFIED], UNIFIED
    for comp in cgroups_path.strip("/").split("/"):
        cur = os.path.join(cur, comp)
        dirs.append(cur)
    return dirs


class UnifiedBootState:
    """Puts a hybrid host into its boot state (unified holds BOOT_CTRL) and
    restores the state it found."""

    def __init__(self, cgroup_root):
        self.cgroup_root = cgroup_root  # this session's pods live below it
        self.remount = False  # BOOT_CTRL was on v1 before: mount it back
        self.cleaned = []     # controllers disabled after someone enabled them

    def enter(self):
        if not os.path.exists(os.path.join(UNIFIED, "cgroup.controllers")):
            pytest.skip("not a hybrid cgroup host (no cgroup2 at %s)" % UNIFIED)
        # an earlier run of a broken shim may have left controllers enabled
        self.cleaned += _disable_all(UNIFIED)
        if self.cleaned:
            print("cleaned before the test: %s" % self.cleaned)
        if _held():
            return  # the host is in its boot state already
        ctrls = _v1_controllers_at(BOOT_CTRL_V1)
        if ctrls is None or BOOT_CTRL not in ctrls:
            pytest.skip("cannot produce the boot state: the unified hierarchy holds no "
                        "controller and no v1 %s hierarchy is mounted at %s (the host binds "
                        "every controller to v1)" % (BOOT_CTRL, BOOT_CTRL_V1))
        # this session's own cgroups there (a crun pod's parents) go first,
        # and what finished sessions left
        _rmdir_tree(os.path.join(BOOT_CTRL_V1, self.cgroup_root))
        gone = _remove_dead_sessions_cgroups(BOOT_CTRL_V1)
        if gone:
            print("removed leftover cgroups of finished sessions from %s: %s"
                  % (BOOT_CTRL_V1, gone))
        others = ctrls & (_known_controllers() - {BOOT_CTRL})
        if others:
            pytest.skip("cannot produce the boot state: the v1 hierarchy at %s also has "
                        "controllers %s" % (BOOT_CTRL_V1, sorted(others)))
        if _child_cgroups(BOOT_CTRL_V1):
            pytest.skip("cannot produce the boot state: the v1 hierarchy at %s has child "
                        "cgroups (a concurrent session's?): %s"
                        % (BOOT_CTRL_V1, _child_cgroups(BOOT_CTRL_V1)[:8]))
        # A removed cgroup lingers (dying) for a moment; unmounting a
        # hierarchy that still has one detaches it for good instead of
        # giving the controller back.
        try:
            harness.wait_until(lambda: _v1_cgroup_count(BOOT_CTRL) == 1, 5, 0.02,
                               "the removed cgroups of the v1 %s hierarchy to be released"
                               % BOOT_CTRL)
        except AssertionError as e:
            pytest.skip("cannot produce the boot state: %s" % e)
        harness.run(["umount", BOOT_CTRL_V1], timeout=10)
        self.remount = True
        try:
            harness.wait_until(lambda: BOOT_CTRL in _held(), 2, 0.02,
                               "%s to return to the unified hierarchy" % BOOT_CTRL)
        except AssertionError:
            # a child cgroup appeared before the umount: the detached
            # hierarchy lives on; mounting it again reattaches it
            self.restore()
            pytest.skip("cannot produce the boot state: %s stayed on its v1 hierarchy "
                        "after umount (a concurrent pod created a cgroup in it)" % BOOT_CTRL)

    def mounted_v1(self):
        ctrls = _v1_controllers_at(BOOT_CTRL_V1)
        return ctrls is not None and BOOT_CTRL in ctrls

    def restore(self):
        """Undo what a shim enabled, then give BOOT_CTRL back to v1 if it
        was there before. Idempotent."""
        self.cleaned += _disable_all(UNIFIED)
        if not self.remount or self.mounted_v1():
            self.remount = False
            return
        os.makedirs(BOOT_CTRL_V1, exist_ok=True)

        def mount():
            # EBUSY until the css of the controller's last cgroup2 users
            # are released, which the kernel does asynchronously
            return harness.run(["mount", "-t", "cgroup", "-o", BOOT_CTRL, "cgroup",
                                BOOT_CTRL_V1], timeout=10, check=False).returncode == 0

        harness.wait_until(mount, 10, 0.1, "mount of the v1 %s hierarchy at %s (the host "
                           "stays in its boot state: run scripts/prepare-host.sh)"
                           % (BOOT_CTRL, BOOT_CTRL_V1))
        self.remount = False


@pytest.fixture
def unified_boot_state(cri_env):
    """The host's boot state for one test (see the module doc). Listed
    before `pods`, so that the test's pods are gone before it restores."""
    state = UnifiedBootState(cri_env.cgroup_root)
    state.enter()
    try:
        yield state
    finally:
        state.restore()
        if state.cleaned:
            print("disabled in the unified hierarchy: %s" % state.cleaned)


def test_pod_leaves_unified_hierarchy_alone(unified_boot_state, pods):
    """RunPodSandbox plus a container, then removal, on the boot state: no
    cgroup.subtree_control of the unified hierarchy (its root, every
    directory on the pod's path) gains a controller, while the pod runs or
    after; the sandbox process is a member of its cgroup there, as runc
    makes it; unified still holds exactly what it held."""
    held = _held()
    assert BOOT_CTRL in held, held
    pod = pods.run(containers=1)
    path = pod.info["runtimeSpec"]["linux"]["cgroupsPath"]
    assert path.startswith("/"), path  # the cgroupfs driver
    dirs = _path_dirs(path)
    running = _enabled(dirs)
    member = host.proc_cgroups(pod.pid).get("")
    rem = pods.snapshot(pod)
    pods.remove(pod)
    left = pods.leftovers(rem)
    after = _enabled([UNIFIED] + (_tree(dirs[1]) if os.path.isdir(dirs[1]) else []))
    assert not running, "controllers enabled in the unified hierarchy while the pod ran: %s" \
        % running
    assert not after, "controllers left enabled in the unified hierarchy: %s" % after
    assert member == path, "sandbox pid %d is in %r of the unified hierarchy, want %r" % (
        pod.pid, member, path)
    assert not left, "pod %s left behind:\n  %s" % (pod.id, "\n  ".join(left))
    assert _held() == held


def test_crun_runs_after_a_boot_state_pod(unified_boot_state, pods, cri_env):
    """A pod on the boot state, removed; then scripts/prepare-host.sh
    repairs the host as on any boot, and crun runs a pod and a container.
    Needs a host that was prepared before the test (crun cannot run on the
    boot state itself) and crun."""
    if not unified_boot_state.remount:
        pytest.skip("the host was in its boot state before this test: crun cannot run "
                    "there by design (run scripts/prepare-host.sh to enable this test)")
    if not shutil.which("crun"):
        pytest.skip("crun is not installed")
    pod = pods.run()
    pods.remove(pod)
    out = harness.run(["bash", PREPARE_HOST], timeout=30)
    assert unified_boot_state.mounted_v1(), "prepare-host.sh did not bind %s to v1:\n%s%s" % (
        BOOT_CTRL, out.stdout, out.stderr)
    assert _held() == [], _held()
    unified_boot_state.remount = False
    crun = cri_pods.PodFactory(cri_env, "runc-crun")
    try:
        cpod = crun.run(containers=1)
        cid = cpod.containers[0]
        assert crun.cri.container_state(cid) == "CONTAINER_RUNNING"
        assert crun.cri.exec_sync(cid, ["echo", "crun"]) == ("crun\n", "", 0)
        crun.remove(cpod)
    finally:
        errors = crun.cleanup()
    assert not errors, errors
