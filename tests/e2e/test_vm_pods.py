"""VM-isolated pods through containerd's CRI (docs/vm-backend.md, slices 1-2).

The podshim-vm handler's config says Backend = "vm": the pod's sandbox task
is a QEMU virtual machine (TCG on these hosts) running podshim-agent as its
init. Its Create boots the VM and answers once the agent said Hello, and
QEMU's exit, for any reason, is the pod task's exit. The pod's containers
run inside the VM: the agent runs runc there on the bundle the host shares;
their stdout goes to vm-stdout.log in the bundle until the relay to
containerd's FIFOs (slice 3).
Marked `vm`: one boot per test, seconds under TCG, so CI runs this file as
its own short stage (tests/vm/test_vm_boot.c covers the agent's own death).
"""

import hashlib
import os
import re
import signal
import time

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


def boot_id_of(text):
    text = text.strip()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text), \
        repr(text)
    return text


def test_vm_pod_runs_containers_in_the_vm(vm_pods, cri_env):
    """One boot: a container that prints its boot id and exits 3 ran under
    the guest's kernel and its exit code reaches ContainerStatus; a
    long-running one is killed by StopContainer with its exit reported; a
    third is reported exited when QEMU is SIGKILLed, and nothing is left."""
    with open("/proc/sys/kernel/random/boot_id") as f:
        host_boot = boot_id_of(f.read())
    pod = vm_pods.run()
    rem = vm_pods.snapshot(pod)

    once = vm_pods.add_container(
        pod, "once", cmd=("sh", "-c", "cat /proc/sys/kernel/random/boot_id; exit 3"))
    vm_pods.wait_container_state(once, "CONTAINER_EXITED", timeout=60)
    assert vm_pods.cri.container_status(once).status.exit_code == 3
    with open(os.path.join(cri_env.bundle(once), "vm-stdout.log")) as f:
        guest_boot = boot_id_of(f.read())
    assert guest_boot != host_boot, guest_boot

    long = vm_pods.add_container(pod, "long")
    vm_pods.wait_container_state(long, "CONTAINER_RUNNING", timeout=60)
    t0 = time.monotonic()
    vm_pods.cri.stop_container(long, grace=0)
    print("StopContainer in the VM took %.2f s" % (time.monotonic() - t0))
    assert vm_pods.cri.container_state(long) == "CONTAINER_EXITED"
    assert vm_pods.cri.container_status(long).status.exit_code == 137

    victim = vm_pods.add_container(pod, "victim")
    vm_pods.wait_container_state(victim, "CONTAINER_RUNNING", timeout=60)
    run_dir = vm_run_dir(cri_env.bundle(pod.id))
    os.kill(pod.pid, signal.SIGKILL)
    vm_pods.wait_pod_state(pod, "SANDBOX_NOTREADY", timeout=30)
    vm_pods.wait_container_state(victim, "CONTAINER_EXITED", timeout=30)
    assert vm_pods.cri.container_status(victim).status.exit_code == 137
    assert not os.path.exists(run_dir), "%s outlived QEMU" % run_dir
    vm_pods.remove(pod)
    assert vm_pods.leftovers(rem) == []
