"""VM pods through containerd 2.x's shim sandboxer (docs/vm-backend.md,
"VM pods through the shim sandboxer, as built").

The podshim-vm-sb handler is the shipped deploy/containerd-v3-vm.toml:
runtime type io.containerd.podshim-vm.v2 (containerd runs the shim as
containerd-shim-podshim-vm-v2, whose defaults are the VM backend and the
settings of PODSHIM_VM_CONFIG, cri/env.py) with `sandboxer = 'shim'` and no
options. RunPodSandbox is the shim's CreateSandbox, which boots the VM, and
StartSandbox, which answers QEMU's pid; the pod's containers are Task API
creates on the same shim, run in the VM by podshim-agent; WaitSandbox
answers when QEMU exits. Marked `vm`, one boot per test; containerd 2.x
only (1.x has no sandboxer key).
"""

import os
import signal
import time

import pytest

import harness
import test_vm_pods as vmp
import ttrpc_client as tc
from cri import host
from cri import pods as cri_pods

pytestmark = pytest.mark.vm

HANDLER = "podshim-vm-sb"
VM_SHIM = "containerd-shim-podshim-vm-v2"


@pytest.fixture
def vm_sb_pods(cri_env):
    if not cri_env.cd.dist.v2:
        pytest.skip("containerd %s has no shim sandboxer (2.x's `sandboxer` key)"
                    % cri_env.cd.dist.version_text)
    with cri_pods.factory_for_test(cri_env, HANDLER) as factory:
        yield factory


def argv0(pid):
    with open("/proc/%d/cmdline" % pid) as f:
        return f.read().split("\0")[0]


def sandbox_call(pods, pod, method, msg):
    with tc.Client(pods.env.socket(pod.id, HANDLER), timeout=10,
                   service=tc.SANDBOX_SERVICE) as c:
        r = c.call(method, getattr(c.protos.sandbox, msg)(sandbox_id=pod.id))
        assert r.code == tc.OK, (method, r)
        return r.decode(getattr(c.protos.sandbox, msg.replace("Request", "Response")))


def test_vm_sandboxer_pod(vm_sb_pods, cri_env, tmp_path):
    """One boot: RunPodSandbox answers with QEMU as the pod's pid, a child
    of the pod's shim (run under the VM name), sized from the pod's
    resources and in the pod's cgroup; the shim's SandboxStatus, Platform and
    SandboxMetrics are the VM's; two containers run in the VM (the guest's
    boot id, not the host's) with their output in CRI's logs, the pod IP
    on the guest's eth0 (an ExecSync sees it) and their ContainerStats from
    the guest; the shim's StopSandbox with a timeout (as containerd's
    sandbox API sends it) stops them before the VM: SIGTERM through the
    agent (a, which traps it, exits 143), SIGKILL at the timeout (b, whose
    init ignores SIGTERM: 137), their own exits, then the agent's Shutdown:
    QEMU exits 0; after RemovePodSandbox no QEMU, run directory, cgroup,
    socket, shim or bundle is left."""
    pods = vm_sb_pods
    with open("/proc/sys/kernel/random/boot_id") as f:
        host_boot = vmp.boot_id_of(f.read())
    cfg = pods.pod_config(log_directory=str(tmp_path))
    cfg.linux.resources.cpu_period = 100000
    cfg.linux.resources.cpu_quota = 100000
    cfg.linux.resources.memory_limit_in_bytes = 128 << 20
    pod = pods.run_config(cfg)
    print("RunPodSandbox of a VM pod (shim sandboxer) took %.2f s" % pods.run_latencies[-1])
    qemu = pod.pid
    assert vmp.comm(qemu).startswith("qemu-system"), vmp.comm(qemu)
    shims = pods.pod_shims(pod)
    assert len(shims) == 1 and vmp.ppid(qemu) == shims[0], (qemu, shims)
    assert os.path.basename(argv0(shims[0])) == VM_SHIM, argv0(shims[0])
    assert vmp.qemu_option(qemu, "-m") == "384", vmp.qemu_option(qemu, "-m")
    assert vmp.qemu_option(qemu, "-smp") == str(min(2, os.cpu_count()))
    want = "%s/%s" % (cfg.linux.cgroup_parent, pod.id)
    cgs = host.proc_cgroups(qemu)
    assert cgs and all(p == want for ctrl, p in cgs.items() if "name=" not in ctrl), (want, cgs)
    # the pod's bundle is the sandbox controller's: its run directory by it
    bundle = cri_env.sandbox_bundle(pod.id)
    run_dir = vmp.vm_run_dir(bundle)
    assert os.path.exists(os.path.join(run_dir, "agent.sock")), run_dir
    st = sandbox_call(pods, pod, "SandboxStatus", "SandboxStatusRequest")
    assert st.state == "SANDBOX_READY" and st.pid == qemu, st
    plat = sandbox_call(pods, pod, "Platform", "PlatformRequest").platform
    assert plat.os == "linux", plat
    m = sandbox_call(pods, pod, "SandboxMetrics", "SandboxMetricsRequest").metrics
    assert m.id == pod.id and m.data.type_url in ("io.containerd.cgroups.v1.Metrics",
                                                  "io.containerd.cgroups.v2.Metrics"), m
    assert len(m.data.value) > 0, m
    rem = pods.snapshot(pod)

    a_cfg = pods.container_config(pod, "a", (
        "sh", "-c", "cat /proc/sys/kernel/random/boot_id; echo err-a >&2; "
        "trap 'exit 143' TERM; while :; do sleep 0.2; done"))
    a_cfg.log_path = "a.log"
    a_cfg.linux.resources.memory_limit_in_bytes = 64 << 20
    t0 = time.monotonic()
    a = pods.cri.create_container(pod.id, a_cfg, pod.config)
    pod.containers.append(a)
    pods.cri.start_container(a)
    print("CreateContainer + StartContainer in the VM took %.2f s" % (time.monotonic() - t0))
    # b mounts the task directory of the namespace, where containerd keeps
    # its bundles and a Linux pod's beside: in the guest that path is the
    # VM's bundle share (sandbox/vm/share.h), which holds a and b alone
    task_dir = os.path.dirname(cri_env.bundle(a))
    b_cfg = pods.container_config(pod, "b", ("sh", "-c", "echo out-b; exec sleep 1000"))
    b_cfg.log_path = "b.log"
    b_cfg.mounts.append(pods.pb.Mount(container_path="/bundles", host_path=task_dir,
                                      readonly=True))
    b = pods.cri.create_container(pod.id, b_cfg, pod.config)
    pod.containers.append(b)
    pods.cri.start_container(b)
    for c in (a, b):
        assert pods.cri.container_state(c) == "CONTAINER_RUNNING", c
    guest_boot = vmp.read_boot_id(str(tmp_path / "a.log"))
    assert guest_boot != host_boot, guest_boot
    harness.wait_until(lambda: bytes(vmp.cri_log(str(tmp_path / "a.log"))[b"stderr"]) ==
                       b"err-a\n", 30, 0.1, "err-a in a's log")
    harness.wait_until(lambda: bytes(vmp.cri_log(str(tmp_path / "b.log"))[b"stdout"]) ==
                       b"out-b\n", 30, 0.1, "out-b in b's log")
    # the pod's CNI network (containerd made the netns and ran CNI before
    # CreateSandbox): a tap for QEMU, the pod IP on the guest's eth0, as an
    # exec in b sees it
    ip = pods.cri.pod_status(pod.id).status.network.ip
    with open("/proc/%d/cmdline" % qemu) as f:
        assert "-netdev" in f.read().split("\0"), "QEMU without a NIC"
    out, err, code = pods.cri.exec_sync(b, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"], 60)
    assert code == 0 and (" %s/" % ip) in out, (ip, out, err)
    share = vmp.vm_run_dir(bundle) + ".bundles"
    with cri_pods.factory_for_test(cri_env, "podshim") as lf:
        lp = lf.run(containers=1)
        assert lp.containers[0] in os.listdir(task_dir), os.listdir(task_dir)
        out, err, code = pods.cri.exec_sync(b, ["ls", "-a", "/bundles"], 60)
        # their bundles and the host files bound into them (sandbox/vm/binds.h)
        listed = {a, b, ".%s.mounts" % a, ".%s.mounts" % b}
        assert (err, code) == ("", 0) and set(out.split()) == listed | {".", ".."}, (out, err)
        assert set(os.listdir(share)) == listed, os.listdir(share)
        lf.remove(lp)
    # no process of theirs on the host: the containers' pids are the guest's
    assert not [p for p in host.pids_with_argv(["sleep", "1000"])
                if any(v.startswith(want) for v in host.proc_cgroups(p).values())]
    st = pods.cri.container_stats(a)
    ws, avail = st.memory.working_set_bytes.value, st.memory.available_bytes.value
    assert ws > 0 and st.cpu.usage_core_nano_seconds.value > 0, st
    assert 0 < avail and ws + avail == 64 << 20, st

    check_stop_with_timeout(pods, pod, qemu, a, b)
    pods.cri.stop_pod(pod.id)
    assert pods.cri.pod_state(pod.id) == "SANDBOX_NOTREADY"
    harness.wait_until(lambda: not host.alive(qemu), 10, 0.05, "QEMU %d gone" % qemu)
    assert not os.path.exists(run_dir), run_dir
    assert not os.path.exists(share) and not harness.mounts_under(share), share
    pods.remove(pod)
    assert pods.leftovers(rem) == []
    assert not os.path.exists(run_dir), run_dir
    assert not os.path.exists(bundle), bundle


STOP_TIMEOUT = 3


def check_stop_with_timeout(pods, pod, qemu, term, ignores_term):
    """StopSandbox(timeout) of a VM pod, as the Linux backend stops a pod:
    SIGTERM to every member, SIGKILL at the timeout, their exits their own
    (through the agent, not the 137 QEMU's death would make up), then the
    VM's orderly end (the agent's Shutdown: QEMU exits 0, not 137)."""
    t0 = time.monotonic()
    with tc.Client(pods.env.socket(pod.id, HANDLER), timeout=60,
                   service=tc.SANDBOX_SERVICE) as c:
        sb = c.protos.sandbox
        r = c.call("StopSandbox", sb.StopSandboxRequest(sandbox_id=pod.id,
                                                        timeout_secs=STOP_TIMEOUT))
        assert r.code == tc.OK, r
        took = time.monotonic() - t0
        print("StopSandbox(timeout %d s) of a VM pod with a container ignoring SIGTERM: %.2f s"
              % (STOP_TIMEOUT, took))
        assert not host.alive(qemu), "StopSandbox answered with QEMU %d running" % qemu
        r = c.call("WaitSandbox", sb.WaitSandboxRequest(sandbox_id=pod.id))
        assert r.code == tc.OK, r
        assert r.decode(sb.WaitSandboxResponse).exit_status == 0, r.decode(sb.WaitSandboxResponse)
    # b ignored SIGTERM for the whole timeout; the rest is the agent's
    # SIGKILL and the VM's shutdown, each a round trip or two
    assert STOP_TIMEOUT <= took < STOP_TIMEOUT + 5, took
    for cid, code in ((term, 128 + signal.SIGTERM), (ignores_term, 128 + signal.SIGKILL)):
        pods.wait_container_state(cid, "CONTAINER_EXITED", timeout=15)
        assert pods.cri.container_status(cid).status.exit_code == code, cid
    pods.wait_pod_state(pod, "SANDBOX_NOTREADY", timeout=15)


def test_vm_sandboxer_restart_and_qemu_killed(vm_sb_pods, cri_env):
    """containerd killed and started again while the VM pod runs: it
    reconnects to the pod's shim (Connect on the sandbox id, on the VM
    type's socket) and CRI finds the pod READY and its container running
    and parks WaitSandbox again; then SIGKILL of QEMU tears the pod down
    through that WaitSandbox: CRI marks the pod NOTREADY, its running
    container is reported exited (137), the run directory is gone at once;
    nothing is left after removal."""
    pods = vm_sb_pods
    pod = pods.run()
    qemu = pod.pid
    run_dir = vmp.vm_run_dir(cri_env.sandbox_bundle(pod.id))
    rem = pods.snapshot(pod)
    c = pods.add_container(pod, "victim")
    pods.wait_container_state(c, "CONTAINER_RUNNING", timeout=60)
    shims = pods.pod_shims(pod)
    cri_env.restart(crash=True)
    assert pods.cri.pod_state(pod.id) == "SANDBOX_READY"
    assert pods.pod_shims(pod) == shims, "the pod's shim was replaced"
    assert pods.cri.container_state(c) == "CONTAINER_RUNNING"
    assert pods.cri.container_stats(c).attributes.id == c
    assert host.alive(qemu) and vmp.ppid(qemu) == shims[0]
    os.kill(qemu, signal.SIGKILL)
    pods.wait_pod_state(pod, "SANDBOX_NOTREADY", timeout=30)
    pods.wait_container_state(c, "CONTAINER_EXITED", timeout=30)
    assert pods.cri.container_status(c).status.exit_code == 137
    assert not os.path.exists(run_dir), "%s outlived QEMU" % run_dir
    pods.remove(pod)
    assert pods.leftovers(rem) == []
    assert not host.alive(qemu), "QEMU %d" % qemu
