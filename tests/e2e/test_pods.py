"""Kubernetes pods end to end: containerd's CRI plugin drives the shim.

Every test runs once per CRI runtime handler (PODSHIM_CRI_HANDLERS, default
"runc,podshim"): `runc` is containerd's own runc-v2 shim and checks the test
itself against the reference; `podshim` is ours. What holds for any shim is
asserted for both. What only a pause-less pod shim can give (no pause
process, an unprivileged infra process, teardown of every container when
the infra process dies in a pod without a shared pid namespace) is asserted
for podshim and skipped for runc; where a podshim-only check has a runc
counterpart (the pause process is there), the counterpart is asserted for
runc so the check is seen to be able to fail.

Each test ends by removing its pods and proving nothing outlived them: no
shim process or socket, no pod process, mount, cgroup, netns or bundle.
"""

import ipaddress
import json
import os
import signal
import socket

import harness
import pytest

from cri import env as cri_env
from cri import host
from cri import images

PODSHIM_ONLY = "pause-less infra task: podshim only"


def _podshim(pods):
    """podshim, in either pod mode (podsandbox, or the shim sandboxer)."""
    return pods.handler.startswith("podshim")


def _shim_mode(pods):
    return pods.handler in cri_env.SHIM_SANDBOXER


def _assert_running(pods, pod):
    st = pods.cri.pod_status(pod.id).status
    assert pods.pb.PodSandboxState.Name(st.state) == "SANDBOX_READY", st
    assert st.runtime_handler == pods.handler
    listed_pods = {p.id: (pods.pb.PodSandboxState.Name(p.state), p.runtime_handler)
                   for p in pods.cri.list_pods()}
    assert listed_pods.get(pod.id) == ("SANDBOX_READY", pods.handler), listed_pods
    listed = {c.id: pods.pb.ContainerState.Name(c.state)
              for c in pods.cri.list_containers(pod.id)}
    assert listed == {c: "CONTAINER_RUNNING" for c in pod.containers}, listed
    for cid in pod.containers:
        cs = pods.cri.container_status(cid).status
        assert pods.pb.ContainerState.Name(cs.state) == "CONTAINER_RUNNING", cs
        assert cs.started_at > 0


def _assert_one_shim(pods, pod):
    """Exactly one shim serves the pod: it owns the group socket, every
    task's bundle points at that socket, and every container process is
    its child. Returns the shim pid."""
    shims = pods.pod_shims(pod)
    assert len(shims) == 1, "pod %s: shims %s" % (pod.id, shims)
    for cid in pod.containers:
        assert pods.env.all_shims(cid) == [], "a shim was started for container %s" % cid
    sock = pods.env.socket(pod.id)
    assert host.listening_socket_pids(sock) == {shims[0]}, sock
    for tid in pod.ids:
        # what containerd connects to (bootstrap.json on 2.x)
        ep = pods.env.endpoint(tid)
        assert ep.address == "unix://" + sock, (tid, ep)
        if _podshim(pods):
            pods.assert_reached_pod_shim(pod, tid)
            # the handler's options reached the task: the OCI runtime of
            # its config file (1.6) or of its inline table (1.7+); the shim
            # sandboxer's handler has none (cri/env.py): the default
            want = "runc" if _shim_mode(pods) else pods.env.podshim_binary(pods.handler)
            with open(os.path.join(pods.env.bundle(tid), "options.json")) as f:
                got = json.load(f)["binary_name"]
            assert got == want, (tid, got)
    for cid in pod.containers:
        pid = pods.container_pid(cid)
        assert int(host.status(pid)["PPid"]) == shims[0], (cid, pid)
    return shims[0]


def _assert_shared_namespaces(pods, pod):
    want = host.ns_links(pod.pid, ("ipc", "uts", "net"))
    for cid in pod.containers:
        got = host.ns_links(pods.container_pid(cid), ("ipc", "uts", "net"))
        assert got == want, "container %s: %s, sandbox: %s" % (cid, got, want)
    return want


def _assert_exec(pods, cid):
    assert pods.cri.exec_sync(cid, ["echo", "hi"]) == ("hi\n", "", 0)
    out, err, code = pods.cri.exec_sync(cid, ["sh", "-c", "echo oops >&2; exit 3"])
    assert (out, err, code) == ("", "oops\n", 3)


def _assert_infra_process(pods, pod, shim):
    """podshim: no pause-image process, and the infra process is the shim's
    own unprivileged child. runc: the pause process is exactly the sandbox
    pid, which proves the detection works."""
    # both shims must place the sandbox process in the spec's cgroupsPath
    want = pod.info["runtimeSpec"]["linux"]["cgroupsPath"]
    placed = host.proc_cgroups(pod.pid)
    for ctrl in ("memory", "pids", "cpu"):
        path = next((v for k, v in placed.items() if ctrl in k.split(",")), None)
        assert path is None or path == want, (ctrl, path, want)
    pause = pods.pause_processes(pod, [shim])
    st = host.status(pod.pid)
    uids = st["Uid"].split()
    if not _podshim(pods):
        assert pause == [pod.pid], pause
        assert host.cmdline(pod.pid) == images.PAUSE_ARGV
        assert uids[0] == images.PAUSE_USER.split(":")[0], st["Uid"]
        return
    assert pause == [], "pause-image processes in a podshim pod: %s" % [
        (p, host.cmdline(p)) for p in pause]
    assert host.cmdline(pod.pid) != images.PAUSE_ARGV
    assert int(st["PPid"]) == shim, "infra pid %d is not the shim's child" % pod.pid
    assert int(st["CapEff"], 16) == 0, "infra CapEff %s" % st["CapEff"]
    assert int(st["CapPrm"], 16) == 0, "infra CapPrm %s" % st["CapPrm"]
    assert all(int(u) != 0 for u in uids), "infra runs as uid %s" % st["Uid"]
    assert st.get("NoNewPrivs") == "1", "infra NoNewPrivs %s" % st.get("NoNewPrivs")


def _stop_and_remove(pods, pod, rem):
    first = pod.containers[0]
    pods.cri.stop_container(first, grace=0)
    pods.wait_container_state(first, "CONTAINER_EXITED")
    cs = pods.cri.container_status(first).status
    assert cs.finished_at > 0 and cs.exit_code == 128 + signal.SIGKILL, cs
    for cid in pod.containers[1:]:
        assert pods.cri.container_state(cid) == "CONTAINER_RUNNING"
    pods.cri.stop_pod(pod.id)
    assert pods.cri.pod_state(pod.id) == "SANDBOX_NOTREADY"
    for cid in pod.containers:
        assert pods.cri.container_state(cid) == "CONTAINER_EXITED", cid
    pods.remove(pod)
    left = pods.leftovers(rem)
    assert not left, "pod %s left behind:\n  %s" % (pod.id, "\n  ".join(left))


def test_pod_with_cni_network(pods):
    pod = pods.run(containers=3)
    _assert_running(pods, pod)

    ip = pods.cri.pod_status(pod.id).status.network.ip
    assert ip and ipaddress.ip_address(ip) in pods.env.subnet, ip
    assert pod.netns_path and os.path.exists(pod.netns_path)
    assert host.ns_links(pod.pid, ("net",)) != host.ns_links(os.getpid(), ("net",))

    _assert_one_shim(pods, pod)
    _assert_shared_namespaces(pods, pod)
    for cid in pod.containers:
        out, _, code = pods.cri.exec_sync(cid, ["hostname"])
        assert (out.strip(), code) == (pod.config.hostname, 0)
    out, _, code = pods.cri.exec_sync(pod.containers[1], ["ip", "-4", "-o", "addr", "show"])
    assert code == 0 and (" %s/" % ip) in out, out
    _assert_exec(pods, pod.containers[2])
    if _podshim(pods):
        _assert_pod_stats(pods, pod)
    _stop_and_remove(pods, pod, pods.snapshot(pod))


def _assert_pod_stats(pods, pod):
    """Stats of the infra task: the pod cgroup's metrics plus the pod
    netns's interfaces (the CNI veth end, never lo)."""
    type_url, metrics = pods.own_task_metrics(pod)
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        # a cgroup v2 host: containerd's v2 Metrics has no network field
        assert type_url == "io.containerd.cgroups.v2.Metrics", type_url
        assert metrics.pids.current >= 1, metrics.pids
        assert metrics.memory.usage > 0, metrics.memory
        return
    assert type_url == "io.containerd.cgroups.v1.Metrics", type_url
    names = [n.name for n in metrics.network]
    assert names and "lo" not in names, names
    assert any(n.rx_packets > 0 or n.tx_packets > 0 for n in metrics.network), metrics.network
    assert metrics.pids.current >= 1, metrics.pids


@pytest.mark.cgroup
def test_pod_with_host_network(pods):
    pod = pods.run(host_network=True, containers=3)
    _assert_running(pods, pod)
    assert pods.cri.pod_status(pod.id).status.network.ip == ""
    assert pod.netns_path is None

    _assert_one_shim(pods, pod)
    shared = _assert_shared_namespaces(pods, pod)
    assert shared["net"] == host.ns_links(os.getpid(), ("net",))["net"]
    out, _, code = pods.cri.exec_sync(pod.containers[0], ["hostname"])
    assert (out.strip(), code) == (socket.gethostname(), 0)
    _assert_exec(pods, pod.containers[1])
    _stop_and_remove(pods, pod, pods.snapshot(pod))


@pytest.mark.parametrize("network", ["cni", "host"])
def test_infra_process_is_pauseless_and_unprivileged(pods, network):
    """podshim runs no pause image: the sandbox pid is the shim's own child
    with no capabilities, a non-zero uid and no_new_privs. For runc the
    same probe must find the pause process (the check can fail)."""
    pod = pods.run(host_network=network == "host", containers=1)
    shim = _assert_one_shim(pods, pod)
    rem = pods.snapshot(pod)
    _assert_infra_process(pods, pod, shim)
    _assert_shared_namespaces(pods, pod)
    _stop_and_remove(pods, pod, rem)


@pytest.mark.cgroup
@pytest.mark.parametrize("pid_mode", ["POD", "CONTAINER"])
def test_killing_infra_process_tears_pod_down(pods, pid_mode):
    """SIGKILL of the sandbox pid: CRI sees the sandbox exit through Wait,
    every container exits too, and each task publishes /tasks/exit.

    With a shared pid namespace (POD) the kernel kills the containers along
    with the namespace's init, so runc-v2 passes too. With CONTAINER pid
    namespaces only a pod-aware shim tears the containers down."""
    if pid_mode == "CONTAINER" and not _podshim(pods):
        pytest.skip("runc-v2 leaves containers running when the pause process dies "
                    "outside their pid namespace; " + PODSHIM_ONLY)
    pod = pods.run(pid_mode=pid_mode, containers=3)
    _assert_running(pods, pod)
    _assert_one_shim(pods, pod)
    rem = pods.snapshot(pod)
    events = pods.env.events
    seen = len(events.snapshot())

    os.kill(pod.pid, signal.SIGKILL)
    pods.wait_pod_state(pod, "SANDBOX_NOTREADY", timeout=10)
    for cid in pod.containers:
        pods.wait_container_state(cid, "CONTAINER_EXITED", timeout=10)

    # the pod's own end: a task exit, or with the shim sandboxer (where the
    # pod is no task) a sandbox exit
    topic, key = ("/sandboxes/exit", "sandbox_id") if _shim_mode(pods) else ("/tasks/exit",
                                                                              "container_id")

    def exits(evs):
        got = {e.get("container_id") for e in evs[seen:] if e.topic == "/tasks/exit"}
        got |= {e.get(key) for e in evs[seen:] if e.topic == topic}
        return set(pod.ids) <= got and got

    events.wait_for(exits, 10, what="the exit of the sandbox and of every container")
    sandbox_exit = [e for e in events.snapshot()[seen:]
                    if e.topic == topic and e.get(key) == pod.id]
    if not _shim_mode(pods):  # SandboxExit carries no pid
        assert sandbox_exit[0].get("pid") == pod.pid
    assert sandbox_exit[0].get("exit_status") == 128 + signal.SIGKILL

    pods.remove(pod)
    left = pods.leftovers(rem)
    assert not left, "pod %s left behind:\n  %s" % (pod.id, "\n  ".join(left))


def _grouped(pods):
    """Whether containerd grouped the pod's containers on a version 3 shim:
    it creates them on the pod's socket without the shim binary's `start`,
    and so with no dead-shim cleanup either (core/runtime/v2/
    shim_manager.go Start of 2.1.9: loadShim with an empty onClose): no
    `delete` action runs for them when the shim dies, only the pod's own.
    runc-v2 is such a shim under 2.x; podshim is one only when asked
    (PODSHIM_E2E_BOOTSTRAP_VERSION=3) or as the pod's sandboxer."""
    return pods.env.cd.dist.v2 if not _podshim(pods) else pods.env.bootstrap_version >= 3


RUNC_ROOT = "/run/containerd/runc"  # the default root of runc under both shims


def _member_remains(pods, pid, cid):
    """What of container cid (whose process was pid) the host still has:
    its process, cgroups, mounts and runc state."""
    left = []
    if host.alive(pid):
        left.append("process %d" % pid)
    cgroups = host.cgroup_dirs_matching([cid])
    if cgroups:
        left.append("cgroups %s" % cgroups)
    mounts = pods.env.mounts_of([cid])
    if mounts:
        left.append("mounts %s" % mounts)
    state = os.path.join(RUNC_ROOT, cri_env.NAMESPACE, cid)
    if os.path.exists(state):
        left.append("runc state %s" % state)
    return left


@pytest.mark.cgroup
def test_killed_shim_leaves_nothing(pods):
    """SIGKILL of a running pod's shim: containerd sees the connection drop
    and runs the shim binary's `delete` action for each of its tasks
    (cleanupAfterDeadShim); once CRI has stopped and removed the pod,
    nothing of it is left: no infra/pause or container process, no cgroup
    named after the pod or its container in any hierarchy, no mount, socket
    or bundle. runc-v2 passes by `runc delete --force` of its pause
    container; podshim's infra process is no runtime's container, so its
    pod cgroup is the delete action's to remove.

    Where containerd grouped the containers on a version 3 shim (_grouped)
    it runs the `delete` action for the pod's own task alone, after it has
    removed the members' bundles. podshim's pod records its members in its
    own bundle (sandbox/linux/members.h), and its action cleans them up
    from there: their processes, cgroups, mounts and runc state are gone
    soon after the shim. runc-v2's action does no such thing: its container
    outlives its shim there, so it skips; so does the shim sandboxer, whose
    pod containerd 2.1.9 cannot even read once its shim is gone."""
    grouped = _grouped(pods)
    if grouped and not _podshim(pods):
        pytest.skip("containerd %s runs no delete action for containers grouped on a version 3 "
                    "shim when it dies (shim_manager.go Start: loadShim, no cleanup), and "
                    "runc-v2's own action cleans only its own task" % pods.env.cd.dist.version_text)
    if _shim_mode(pods):
        pytest.skip("containerd %s has no dead-shim path for a shim sandboxer's pod: "
                    "PodSandboxStatus fails (ttrpc: closed) and RemovePodSandbox refuses its "
                    "containers" % pods.env.cd.dist.version_text)
    pod = pods.run(containers=1)
    cid = pod.containers[0]
    _assert_running(pods, pod)
    shim = _assert_one_shim(pods, pod)
    rem = pods.snapshot(pod)
    cpid = pods.container_pid(cid)
    # positive controls: what must go is there to begin with
    assert host.cgroup_dirs_matching([pod.id]), "no cgroup named after the pod"
    assert host.cgroup_dirs_matching([cid]), "no cgroup named after the container"
    assert all(host.alive(p) for p in rem.pids), rem.pids
    assert _member_remains(pods, cpid, cid), "the container has nothing to clean up"

    os.kill(shim, signal.SIGKILL)
    harness.wait_until(lambda: not host.alive(shim), 10, 0.05, "the shim to die")
    pods.wait_pod_state(pod, "SANDBOX_NOTREADY", timeout=30)
    if grouped:
        # No action of its own: the pod's cleans the container up from the
        # pod's record, before CRI is asked to stop anything.
        try:
            harness.wait_until(lambda: not _member_remains(pods, cpid, cid), 15, 0.1,
                               "the pod's delete action to clean up container %s" % cid)
        except AssertionError as e:
            raise AssertionError("%s; left: %s" % (e, _member_remains(pods, cpid, cid))) from None
    # Grouped, CRI learns of it when its retry of the container's exit
    # (backed off after the first Delete met the closed connection) finds
    # the task gone.
    pods.wait_container_state(cid, "CONTAINER_EXITED", timeout=30)

    pods.remove(pod)
    left = pods.leftovers(rem)
    sock = "shim socket %s" % rem.socket
    if not _podshim(pods) and sock in left and not host.listening_socket_pids(rem.socket):
        # runc-v2's delete action leaves its dead shim's socket file (as in
        # test_faults.py's test_shim_sigkill); podshim's removes it
        print("%s left the socket of its killed shim: %s (removed)" % (pods.handler, rem.socket))
        os.unlink(rem.socket)
        left.remove(sock)
    assert not left, "pod %s left behind:\n  %s" % (pod.id, "\n  ".join(left))


def test_two_pods_get_two_shims(pods):
    import ttrpc_client

    a = pods.run(containers=1)
    b = pods.run(containers=1)
    shim_a = _assert_one_shim(pods, a)
    shim_b = _assert_one_shim(pods, b)
    assert shim_a != shim_b
    sock_a, sock_b = pods.env.socket(a.id), pods.env.socket(b.id)
    assert sock_a != sock_b
    assert host.ns_links(a.pid, ("net",)) != host.ns_links(b.pid, ("net",))

    # each shim answers for its own pod's tasks and knows nothing of the other's
    for sock, mine, theirs in ((sock_a, a, b), (sock_b, b, a)):
        with ttrpc_client.Client(sock, timeout=10,
                                 service=pods.env.endpoint(mine.id).service) as c:
            for tid in mine.ids:
                r = c.state(tid)
                assert r.code == ttrpc_client.OK, (sock, tid, r)
            for tid in theirs.ids:
                r = c.state(tid)
                assert r.code == ttrpc_client.NOT_FOUND, (sock, tid, r)

    rems = [pods.snapshot(a), pods.snapshot(b)]
    pods.remove(a)
    # b is untouched by a's removal
    _assert_running(pods, b)
    assert pods.pod_shims(b) == [shim_b]
    assert pods.cri.exec_sync(b.containers[0], ["echo", "still"]) == ("still\n", "", 0)
    pods.remove(b)
    for rem in rems:
        left = pods.leftovers(rem)
        assert not left, "pod %s left behind:\n  %s" % (rem.pod.id, "\n  ".join(left))


def test_run_pod_sandbox_latency(pods, record_property):
    """RunPodSandbox latency (median of 3, host network and CNI) reported as
    user properties; bounded loosely so a stuck shim fails here."""
    for host_network in (True, False):
        for _ in range(3):
            pod = pods.run(host_network=host_network)
            pods.remove(pod)
    lat = sorted(pods.run_latencies)
    median = lat[len(lat) // 2]
    record_property("run_pod_sandbox_median_s", round(median, 4))
    print("RunPodSandbox latency (%s): %s" % (pods.handler, ["%.3f" % x for x in lat]))
    assert median < 10, lat
