"""VM-isolated pods through containerd's CRI (docs/vm-backend.md, slice 1).

The podshim-vm handler's config says Backend = "vm": the pod's sandbox task
is a QEMU virtual machine (TCG on these hosts) running podshim-agent as its
init. Slice 1 has the pod only: its Create boots the VM and answers once the
agent said Hello, and QEMU's exit, for any reason, is the pod task's exit.
Marked `vm`: one boot per test, seconds under TCG, so CI runs this file as
its own short stage (tests/vm/test_vm_boot.c covers the agent's own death).
"""

import hashlib
import os
import signal

import pytest

from cri import host
from cri import pods as cri_pods

pytestmark = pytest.mark.vm

VM_RUN_DIR = "/run/podshim/vm"  # src/sandbox/vm/pod.h


@pytest.fixture
def vm_pods(cri_env):
    with cri_pods.factory_for_test(cri_env, "podshim-vm") as factory:
        yield factory


def ppid(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def comm(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().strip()


def vm_run_dir(bundle):
    """The VM's run directory: named by the bundle (sandbox/vm/pod.c)."""
    return os.path.join(VM_RUN_DIR, hashlib.sha256(bundle.encode()).hexdigest()[:16])


def test_vm_pod_is_a_vm_and_qemu_death_ends_it(vm_pods, cri_env):
    pod = vm_pods.run()
    print("RunPodSandbox of a VM pod took %.2f s" % vm_pods.run_latencies[-1])
    # the pod's own task is QEMU, a child of the pod's shim
    assert comm(pod.pid).startswith("qemu-system"), comm(pod.pid)
    shims = vm_pods.pod_shims(pod)
    assert ppid(pod.pid) in shims, (ppid(pod.pid), shims)
    run_dir = vm_run_dir(cri_env.bundle(pod.id))
    assert os.path.exists(os.path.join(run_dir, "agent.sock")), run_dir
    assert vm_pods.cri.pod_state(pod.id) == "SANDBOX_READY"
    rem = vm_pods.snapshot(pod)

    os.kill(pod.pid, signal.SIGKILL)
    vm_pods.wait_pod_state(pod, "SANDBOX_NOTREADY", timeout=30)
    assert not os.path.exists(run_dir), "%s outlived QEMU" % run_dir
    vm_pods.remove(pod)
    assert vm_pods.leftovers(rem) == []


def test_vm_pod_refuses_containers_for_now(vm_pods):
    """Containers in a VM pod come with slice 2: CreateContainer fails with
    the shim's UNIMPLEMENTED, and the pod itself is unharmed."""
    pod = vm_pods.run()
    with pytest.raises(Exception) as e:
        vm_pods.add_container(pod, "c0")
    assert "not supported yet" in str(e.value), e.value
    assert vm_pods.cri.pod_state(pod.id) == "SANDBOX_READY"
