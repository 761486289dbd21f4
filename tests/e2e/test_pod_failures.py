"""Failure paths kubelet hits every day, through containerd's CRI plugin.

Like test_pods.py, every test runs once per CRI runtime handler
(PODSHIM_CRI_HANDLERS, default "runc,podshim"): `runc` is containerd's own
runc-v2 shim, the reference; `podshim` is ours.

  - ExecSync of a command that does not exist (a liveness probe with a
    typo, `crictl exec -s <ctr> /nonexistent`) fails at once with the
    runtime's error, and the container keeps serving execs;
  - ContainerStats of a container that is created but not started returns
    its cgroup's metrics (containerd asks at any time).
"""

import time

import pytest

MISSING_EXEC_LIMIT = 1.0  # seconds, podshim's target (the bound)


def _podshim(pods):
    """podshim, in either pod mode (podsandbox, or the shim sandboxer)."""
    return pods.handler.startswith("podshim")


@pytest.mark.parametrize("cmd", [["/nonexistent"], ["sh", "-c", "exec /nonexistent"]],
                         ids=["missing-binary", "exec-missing-binary"])
def test_exec_sync_missing_command(pods, cmd):
    pod = pods.run(containers=1)
    cid = pod.containers[0]
    rem = pods.snapshot(pod)
    t0 = time.monotonic()
    try:
        out, err, code = pods.cri.exec_sync(cid, cmd, limit=20)
        result = "exit %d, stderr %r" % (code, err)
        failed = code != 0
    except pods.cri.grpc.RpcError as e:
        result = "%s: %s" % (e.code().name, e.details())
        failed = True
    took = time.monotonic() - t0
    print("%s: ExecSync %s -> %s in %.3f s" % (pods.handler, cmd, result, took))
    assert failed, result
    assert "nonexistent" in result or "not found" in result, result
    if _podshim(pods):
        assert took < MISSING_EXEC_LIMIT, "ExecSync of a missing command took %.3f s" % took
    # the container is fine and keeps answering probes
    assert pods.cri.exec_sync(cid, ["echo", "ok"]) == ("ok\n", "", 0)
    pods.remove(pod)
    left = pods.leftovers(rem)
    assert not left, left
