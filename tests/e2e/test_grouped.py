"""Pods as containerd 2.x groups them, in both of podshim's bootstrap modes.

Under containerd 2.1 a CRI pod's containers reach its shim in one of two
ways (containerd v2.1.9: core/runtime/v2/shim_manager.go:166-265):

  plain (bootstrap version 2, podshim's default and the only one 1.x takes):
    containerd execs `<shim> start` for every container; the shim finds
    the pod's socket by the sandbox-id annotation and answers its address;
    `<shim> delete` runs after each container's connection closes.
  grouped (bootstrap version 3; podshim with PODSHIM_BOOTSTRAP_VERSION=3 in
    the shim manager's env, and 2.1's own runc-v2 always): the sandbox
    task's bootstrap.json says version 3, so for the pod's containers
    containerd writes `sandbox` and bootstrap.json into their bundles,
    opens a new connection to the pod's socket and calls
    containerd.task.v3.Task/Create directly: no `start`, no `delete`, and
    Shutdown only after the sandbox task is deleted (core/runtime/v2/
    shim.go:558-573). Whatever the shim does not clean up by itself then
    stays behind.

The session's CRI containerd runs in the mode PODSHIM_E2E_BOOTSTRAP_VERSION
says (test-all runs the pod suites under 2.1 in both). Tests of one mode's
mechanics skip in the other, naming it; the restart and churn tests run in
both, for podshim and for the version's runc-v2.
"""

import json
import os
import signal

import pytest

import harness

from cri import pods as cri_pods

# 200 pods under 2.x, where grouped-mode shims of other runtimes leak under
# churn; 40 under 1.x (one runc-v2 shim per container there makes each pod
# cost several times more, and test_soak covers podshim's own bookkeeping)
CHURN_PODS_ENV = os.environ.get("PODSHIM_E2E_CHURN_PODS")
CHURN_CONTAINERS = 3
CHURN_WORKERS = 3


def _bootstrap(env, task_id):
    path = os.path.join(env.bundle(task_id), "bootstrap.json")
    with open(path) as f:
        return json.load(f)


def _grouped(env, handler):
    """Whether this handler's pods run grouped (bootstrap version 3)."""
    if not env.cd.dist.v2:
        return False
    return handler == "runc" or env.bootstrap_version >= 3


def test_grouped_pod_skips_start_and_delete(pods):
    """Grouped: the sandbox answers version 3; each container's bundle gets
    `sandbox` and a version-3 bootstrap.json from containerd and no start
    ran for it (podshim's start writes `address`); one shim serves the pod,
    answers on containerd.task.v3.Task, and the pod goes away whole."""
    env = pods.env
    if not env.cd.dist.v2:
        pytest.skip("containerd %s has no version-3 bootstrap" % env.cd.dist.version_text)
    if not _grouped(env, pods.handler):
        pytest.skip("podshim bootstraps as version 2 in this run; the grouped mode runs "
                    "with PODSHIM_E2E_BOOTSTRAP_VERSION=3 (test-all's grouped stage)")
    pod = pods.run(containers=2)
    boot = _bootstrap(env, pod.id)
    assert (boot.get("version"), boot.get("protocol")) == (3, "ttrpc"), boot
    socket = env.socket(pod.id)
    assert boot.get("address") == "unix://" + socket, (boot, socket)
    for cid in pod.containers:
        bundle = env.bundle(cid)
        with open(os.path.join(bundle, "sandbox")) as f:
            assert f.read() == pod.id
        assert _bootstrap(env, cid) == boot
        assert not os.path.exists(os.path.join(bundle, "address")), \
            "a start ran for %s in grouped mode: %s" % (cid, os.listdir(bundle))
    shims = pods.pod_shims(pod)
    assert len(shims) == 1, shims
    ep = env.endpoint(pod.id)
    assert ep.service == harness.TASK_V3, ep
    for cid in pod.containers:
        assert pods.cri.exec_sync(cid, ["echo", cid[:8]]) == (cid[:8] + "\n", "", 0)
    rem = pods.snapshot(pod)
    pods.remove(pod)
    assert not pods.leftovers(rem)


def test_plain_pod_runs_start_per_container(pods):
    """Plain (podshim's default, and 1.x for either shim): containerd ran
    `start` for every container (its `address` file is there) and got the
    pod's socket back: one shim per pod, grouped by the shim itself."""
    env = pods.env
    if _grouped(env, pods.handler):
        pytest.skip("this run groups %s's pods (bootstrap version 3)" % pods.handler)
    pod = pods.run(containers=2)
    for tid in pod.ids:
        with open(os.path.join(env.bundle(tid), "address")) as f:
            assert f.read() == "unix://" + env.socket(pod.id), tid
    if env.cd.dist.v2:
        assert _bootstrap(env, pod.id).get("version") == 2
    assert len(pods.pod_shims(pod)) == 1
    rem = pods.snapshot(pod)
    pods.remove(pod)
    assert not pods.leftovers(rem)


def test_pods_survive_containerd_restart(pods):
    """containerd killed while two pods run and started again: it reloads
    the bundles, reconnects to each pod's shim, and every pod keeps working
    (exec, stats, a container's exit reported with its code, stop, remove),
    with nothing left behind."""
    env = pods.env
    a = pods.run(containers=2)
    b = pods.run(containers=1)
    shims = {p.id: pods.pod_shims(p) for p in (a, b)}
    rems = [pods.snapshot(p) for p in (a, b)]
    env.restart(crash=True)
    for p in (a, b):
        assert pods.cri.pod_state(p.id) == "SANDBOX_READY", p.id
        assert pods.pod_shims(p) == shims[p.id], "the pod's shim was replaced"
        for cid in p.containers:
            assert pods.cri.container_state(cid) == "CONTAINER_RUNNING"
            assert pods.cri.exec_sync(cid, ["sh", "-c", "echo $0", cid[:6]]) == (
                cid[:6] + "\n", "", 0)
            assert pods.cri.container_stats(cid).attributes.id == cid
    # an exit after the restart reaches CRI through the reconnected shim
    # (SIGKILL from the host: a pid namespace's init ignores what it has no
    # handler for)
    victim = a.containers[0]
    os.kill(pods.container_pid(victim), signal.SIGKILL)
    pods.wait_container_state(victim, "CONTAINER_EXITED")
    assert pods.cri.container_status(victim).status.exit_code == 137
    env.events.wait_for(lambda evs: any(e.topic == "/tasks/exit" and
                                        e.get("container_id") == victim for e in evs),
                        10, what="TaskExit of %s after the restart" % victim)
    for p, rem in zip((a, b), rems):
        pods.remove(p)
        assert not pods.leftovers(rem), p.id


@pytest.mark.time_limit(900)  # a hang's bound: 200 pods take minutes on a slow box
def test_pod_churn_leaves_nothing(pods, record_property):
    """200 pods (40 under 1.x; PODSHIM_E2E_CHURN_PODS overrides) of
    CHURN_CONTAINERS containers each, created and removed three at a time:
    afterwards no shim process, socket, mount, cgroup or bundle of any of
    them is left (pod shims leak under churn in 2.x's grouped mode for other
    shims; the mode of this run is in the test's properties)."""
    env = pods.env
    n_pods = int(CHURN_PODS_ENV or (200 if env.cd.dist.v2 else 40))
    mode = "grouped" if _grouped(env, pods.handler) else "plain"
    record_property("containerd", env.cd.dist.version_text)
    record_property("mode", mode)
    churn = cri_pods.Churn(pods, n_pods, CHURN_CONTAINERS, CHURN_WORKERS)
    record_property("seconds", round(churn.seconds, 1))
    print("churn: %d pods x %d containers, %s, %s mode, containerd %s: %.1f s"
          % (n_pods, CHURN_CONTAINERS, pods.handler, mode, env.cd.dist.version_text,
             churn.seconds))
    problems = churn.leftovers()
    assert not problems, "after %d pods (%s, %s mode): %s" % (n_pods, pods.handler, mode,
                                                            problems)
    # one shim per pod, each gone: podshim never ran a second shim for a pod
    if pods.handler == "podshim":
        assert len(churn.shim_processes) == n_pods, (len(churn.shim_processes), n_pods)
