"""Leak soak: one podshim daemon, 1,000 exec cycles and 200 container
create/delete cycles, and afterwards exactly what it held at the start.

A keeper task (a shell loop) holds the shim of the group `soak-<pid>` open
for the whole module; every container of the container phase joins that
group (`ctr run --annotation io.containerd.runc.v2.group=...`), so
containerd runs the `start` action for each and gets the same socket back,
and the one daemon serves them all. Execs go straight to the shim socket
with the raw ttrpc client (Exec, Start, Wait, Delete: the calls containerd
makes), four connections at a time, which keeps 1,000 cycles well inside a
minute. The OCI binary is crun when it can run here (its exec costs less
than half of runc's, and the soak is about the shim), else runc;
PODSHIM_SOAK_OCI overrides.

After a warm-up (the first cycles allocate what the daemon keeps for good:
caches, event queue nodes) the module takes a baseline of the shim's open
fds, child processes, mounts below containerd's root and state, cgroups of
the namespace and of the soak ids, sockets of ours under /run/containerd/s,
and VmRSS. After each phase they must be exactly the same, RSS within
256 KiB (printed either way; not asserted under ASan, whose quarantine holds
freed memory on purpose). podshim only: the point is its own bookkeeping.
"""

import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import harness
import ttrpc_client as tc

EXEC_CYCLES = 1000
EXEC_CONNECTIONS = 4
CONTAINER_CYCLES = 200
CONTAINER_WORKERS = 3
RSS_SLACK_KB = 256
GROUP_ANNOTATION = "io.containerd.runc.v2.group"
PROCESS_URL = "types.containerd.io/opencontainers/runtime-spec/1/Process"
LOOP = "trap 'exit 0' TERM; while :; do sleep 0.1; done"
EXEC_SPEC = json.dumps({"args": ["true"], "cwd": "/", "env": ["PATH=/bin"],
                        "user": {"uid": 0, "gid": 0}}).encode()
EXACT = ("fds", "children", "mounts", "cgroups", "sockets")


def _soak_oci():
    forced = os.environ.get("PODSHIM_SOAK_OCI")
    if forced:
        return forced
    try:  # crun 1.8 refuses a hybrid host whose cgroup2 holds controllers
        with open("/sys/fs/cgroup/unified/cgroup.controllers") as f:
            if f.read().split():
                return "runc"
    except OSError:
        pass
    return "crun" if shutil.which("crun") else "runc"


def _children(pid):
    """[(pid, comm, state)] of every process (zombies too) whose parent is pid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                head, tail = f.read().rsplit(")", 1)
        except OSError:
            continue
        fields = tail.split()
        if int(fields[1]) == pid:
            out.append((int(d), head.split("(", 1)[1], fields[0]))
    return sorted(out)


def _vmrss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


class Soak:
    """The keeper task, its shim, and the counters to compare."""

    def __init__(self, rt, pb):
        self.rt = rt
        self.pb = pb
        self.oci = _soak_oci()
        self.group = "soak-%d" % os.getpid()
        self.prefix = "soakc-%d-" % os.getpid()  # ids of the container phase
        self.keeper = "soak-keep-%d" % os.getpid()
        self.socket = harness.socket_path(rt.containerd.address, rt.ctr.namespace, self.group)
        self.cycle_ids = []
        self.shim = None
        self.baseline = None

    def annotation(self):
        return ("--annotation", "%s=%s" % (GROUP_ANNOTATION, self.group))

    def start(self):
        rt = self.rt
        rt.ctr("run", "-d", "--fifo-dir", rt.fifo_dir, *rt.run_args(self.oci),
               *self.annotation(), rt.image, self.keeper, "sh", "-c", LOOP)
        rt.ctr.wait_status(self.keeper, "RUNNING")
        pids = rt.shims(self.keeper)
        assert len(pids) == 1, pids
        self.shim = pids[0]
        assert os.path.exists(self.socket), self.socket

    # ------------------------------------------------------------ counting

    def _cgroups(self):
        """cgroup dirs of our namespace, or named after a soak id, in any
        hierarchy (whatever cgroup driver placed them)."""
        ns = self.rt.ctr.namespace
        found = []
        for top in sorted(os.listdir("/sys/fs/cgroup")):
            for root, dirs, _ in os.walk(os.path.join("/sys/fs/cgroup", top)):
                for d in dirs:
                    path = os.path.join(root, d)
                    if d.startswith(self.prefix) or ("/%s/" % ns) in path + "/":
                        found.append(path)
        return sorted(found)

    def _sockets(self):
        """Sockets under /run/containerd/s that belong to this test: the
        group's and any a task of ours would have had on its own. (Other
        containerds on the host may come and go there meanwhile.)"""
        keys = [self.group, self.keeper] + self.cycle_ids
        ours = {harness.socket_path(self.rt.containerd.address, self.rt.ctr.namespace, k)
                for k in keys}
        present = set(os.path.join(harness.SOCKET_DIR, n) for n in os.listdir(harness.SOCKET_DIR))
        return sorted(present & ours), len(present)

    def snapshot(self):
        fd_dir = "/proc/%d/fd" % self.shim
        fds = {}
        for n in os.listdir(fd_dir):
            try:
                fds[int(n)] = os.readlink(os.path.join(fd_dir, n))
            except OSError:
                pass
        mounts = []
        for d in (self.rt.containerd.root, self.rt.containerd.state):
            mounts += harness.mounts_under(d)
        sockets, all_sockets = self._sockets()
        return {"fds": fds, "children": _children(self.shim), "mounts": sorted(mounts),
                "cgroups": self._cgroups(), "sockets": sockets, "rss_kb": _vmrss_kb(self.shim),
                "all_sockets": all_sockets}

    @staticmethod
    def counts(s):
        return {"fds": len(s["fds"]), "children": len(s["children"]),
                "mounts": len(s["mounts"]), "cgroups": len(s["cgroups"]),
                "sockets": len(s["sockets"]), "rss_kb": s["rss_kb"],
                "all sockets in %s" % harness.SOCKET_DIR: s["all_sockets"]}

    def _same(self, now):
        base = self.baseline
        return all((sorted(now[k].items()) if k == "fds" else now[k])
                   == (sorted(base[k].items()) if k == "fds" else base[k]) for k in EXACT)

    def assert_unchanged(self, phase):
        """Waits (5 s) for the exact counters to come back, then prints and
        compares everything with the baseline."""
        assert os.path.exists("/proc/%d" % self.shim), "the shim died during %s" % phase
        try:
            harness.wait_until(lambda: self._same(self.snapshot()), 5)
        except AssertionError:
            pass  # reported in detail below
        now = self.snapshot()
        base = self.baseline
        print("\nsoak %s: start %s" % (phase, json.dumps(self.counts(base))))
        print("soak %s: after %s" % (phase, json.dumps(self.counts(now))))
        print("soak %s: RSS %+d kB" % (phase, now["rss_kb"] - base["rss_kb"]))
        diff = {}
        for k in EXACT:
            b, n = base[k], now[k]
            if k == "fds":
                extra = {fd: t for fd, t in n.items() if b.get(fd) != t}
                gone = {fd: t for fd, t in b.items() if n.get(fd) != t}
                if extra or gone:
                    diff[k] = {"extra": extra, "gone": gone}
            elif b != n:
                diff[k] = {"extra": [x for x in n if x not in b],
                           "gone": [x for x in b if x not in n]}
        assert not diff, "%s changed what the shim holds: %s" % (phase, json.dumps(diff, indent=1))
        growth = now["rss_kb"] - base["rss_kb"]
        if self.rt.asan_log_dir:
            print("soak %s: RSS not asserted under ASan (quarantine)" % phase)
        else:
            assert growth <= RSS_SLACK_KB, "%s: shim RSS grew by %d kB (%d -> %d)" % (
                phase, growth, base["rss_kb"], now["rss_kb"])

    # -------------------------------------------------------------- cycles

    def exec_cycles(self, names):
        """Exec, Start, Wait, Delete of `true` for each name on one
        connection; returns the failures."""
        t = self.pb.task
        bad = []
        with tc.Client(self.socket, self.pb, timeout=30) as c:
            for eid in names:
                spec = tc.any_msg(self.pb, PROCESS_URL, EXEC_SPEC)
                r = c.call("Exec", t.ExecProcessRequest(id=self.keeper, exec_id=eid, spec=spec))
                if r.code != tc.OK:
                    bad.append((eid, "Exec", r))
                    continue
                r = c.call("Start", t.StartRequest(id=self.keeper, exec_id=eid))
                if r.code != tc.OK or r.decode(t.StartResponse).pid <= 0:
                    bad.append((eid, "Start", r))
                r = c.call("Wait", t.WaitRequest(id=self.keeper, exec_id=eid))
                if r.code != tc.OK or r.decode(t.WaitResponse).exit_status != 0:
                    bad.append((eid, "Wait", r, r.code == tc.OK and r.decode(t.WaitResponse)))
                r = c.call("Delete", t.DeleteRequest(id=self.keeper, exec_id=eid))
                if r.code != tc.OK or r.decode(t.DeleteResponse).exit_status != 0:
                    bad.append((eid, "Delete", r))
        return bad

    def run_execs(self, tag, n, connections):
        names = ["%s%d" % (tag, i) for i in range(n)]
        shares = [names[i::connections] for i in range(connections)]
        with ThreadPoolExecutor(connections) as pool:
            bad = [b for part in pool.map(self.exec_cycles, shares) for b in part]
        assert not bad, "%d of %d exec cycles failed, first: %s" % (len(bad), n, bad[:5])

    def container_cycle(self, cid):
        rt = self.rt
        p = rt.ctr("run", "--rm", *rt.run_args(self.oci), *self.annotation(), rt.image, cid,
                   "true", check=False, timeout=60)
        if p.returncode != 0:
            rt.remove(cid)
            return (cid, p.returncode, p.stderr.strip())
        return None

    def run_containers(self, tag, n, workers):
        ids = ["%s%s%d" % (self.prefix, tag, i) for i in range(n)]
        self.cycle_ids += ids
        with ThreadPoolExecutor(workers) as pool:
            bad = [b for b in pool.map(self.container_cycle, ids) if b]
        assert not bad, "%d of %d container cycles failed, first: %s" % (len(bad), n, bad[:5])
        shims = self.rt.shims(self.keeper)
        assert shims == [self.shim], "the group's shim changed: %s -> %s" % (self.shim, shims)
        others = [p for p in harness.shim_processes(self.rt.flavor.shim_binary,
                                                   self.rt.ctr.namespace)
                  if p != self.shim]
        assert not others, "cycle containers got shims of their own: %s" % others


@pytest.fixture(scope="module")
def pb():
    return tc.load_protos()


@pytest.fixture(scope="module")
def soak(podshim_rt, pb):
    s = Soak(podshim_rt, pb)
    rt = podshim_rt
    try:
        s.start()
        s.run_execs("warm", 20, EXEC_CONNECTIONS)
        s.run_containers("warm", 4, CONTAINER_WORKERS)
        time.sleep(0.5)
        s.baseline = s.snapshot()
        # positive controls: the counters do see a live task (the keeper)
        assert [c[0] for c in s.baseline["children"]] == [rt.ctr.task_list()[s.keeper][0]], \
            "the keeper's init should be the shim's only child: %s" % s.baseline["children"]
        assert rt.leftover_mounts(s.keeper), "the keeper's rootfs mount is not counted"
        assert any(p.endswith("/" + s.keeper) for p in s.baseline["cgroups"]), \
            "the keeper's cgroups are not counted: %s" % s.baseline["cgroups"]
        assert s.baseline["sockets"] == [s.socket], s.baseline["sockets"]
        yield s
    finally:
        rt.remove(s.keeper)
        if s.shim:
            harness.wait_until(lambda: not os.path.exists("/proc/%d" % s.shim)
                               or not rt.shims(s.keeper), 10,
                               what="soak shim %d to exit with its last task" % s.shim)
            harness.wait_until(lambda: not os.path.exists(s.socket), 10,
                               what="soak socket %s removed" % s.socket)


def test_exec_soak(soak):
    t0 = time.monotonic()
    soak.run_execs("x", EXEC_CYCLES, EXEC_CONNECTIONS)
    print("\n%d exec cycles (%s) in %.1f s" % (EXEC_CYCLES, soak.oci, time.monotonic() - t0))
    soak.assert_unchanged("%d exec cycles" % EXEC_CYCLES)


def test_container_soak(soak):
    t0 = time.monotonic()
    soak.run_containers("c", CONTAINER_CYCLES, CONTAINER_WORKERS)
    print("\n%d container cycles (%s) in %.1f s" % (CONTAINER_CYCLES, soak.oci,
                                                   time.monotonic() - t0))
    soak.assert_unchanged("%d container cycles" % CONTAINER_CYCLES)
