"""`ctr run` of a VM container (docs/vm-backend.md, "A container on its own").

`ctr run --runtime io.containerd.podshim.v2 --runtime-config-path <file>`
with a config file saying Backend = "vm" makes a container outside any pod:
it gets a VM of its own (src/sandbox/vm/solo.h), booted at Create, the
container run in it through the agent, the task's exit the container's, and
everything gone once the task is deleted. Marked `vm`: one boot per test.
"""

import hashlib
import json
import os
import shutil
import signal
import time

import pytest

import harness
import ociimage
from cri import host

pytestmark = pytest.mark.vm

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VM_RUN_DIR = "/run/podshim/vm"  # src/sandbox/vm/pod.h


@pytest.fixture(scope="module")
def vm_image(bin_dir):
    image, why = harness.vm_image(bin_dir)
    if not image:
        pytest.skip("no VM guest can be built here: %s" % why[-300:])
    return image


@pytest.fixture
def vm(request, flavor, bin_dir, vm_image):
    """rt, with the arguments of `ctr run` for a VM container."""
    if not flavor.podshim or flavor.oci != "runc":
        pytest.skip("a VM container is podshim's; one OCI runtime is enough for its boots")
    rt = request.getfixturevalue("rt")
    path = os.path.join(rt.containerd.dir, "podshim-vm-ctr.toml")
    with open(path, "w") as f:
        f.write('# written by tests/e2e/test_vm_ctr.py\nBinaryName = "runc"\nBackend = "vm"\n'
                + harness.vm_settings(bin_dir, vm_image))
    rt.vm_args = ["--runtime", rt.runtime, "--runtime-config-path", path]
    rt.vm_agent = os.path.join(os.path.abspath(bin_dir), "podshim-agent")
    # the same VM, whose guest has no such runtime: the container's create
    # fails in the guest, after the boot
    bad = os.path.join(rt.containerd.dir, "podshim-vm-ctr-bad.toml")
    with open(path) as f, open(bad, "w") as g:
        g.write(f.read().replace('BinaryName = "runc"', 'BinaryName = "/nonexistent/runc"'))
    rt.vm_bad_args = ["--runtime", rt.runtime, "--runtime-config-path", bad]
    return rt


def host_boot_id():
    with open("/proc/sys/kernel/random/boot_id") as f:
        return f.read().strip()


def bundle_of(rt, cid):
    return os.path.join(rt.containerd.state, "io.containerd.runtime.v2.task",
                        rt.ctr.namespace, cid)


def run_dir_of(rt, cid):
    """The VM's run directory, named by the bundle (sandbox/vm/pod.c)."""
    digest = hashlib.sha256(bundle_of(rt, cid).encode()).hexdigest()[:16]
    return os.path.join(VM_RUN_DIR, digest)


def children(pid):
    """The live (non-zombie) children of pid (cri/host.py's process table)."""
    return [c for c in host.children_map().get(pid, []) if host.alive(c)]


def host_processes(cmdline):
    found = []
    for d in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if d.isdigit() and f.read() == cmdline:
                    found.append(int(d))
        except OSError:
            pass
    return found


def processes_mentioning(text):
    """Pids whose argv mentions text (a VM's run directory: its QEMU's)."""
    found = []
    for d in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if d.isdigit() and text.encode() in f.read():
                    found.append(int(d))
        except OSError:
            pass
    return found


def comm(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().strip()


def qemu_of(rt, cid):
    shims = rt.shims(cid)
    assert len(shims) == 1, shims
    qemus = [p for p in children(shims[0]) if comm(p).startswith("qemu-system")]
    assert len(qemus) == 1, qemus
    return qemus[0]


def qemu_option(pid, opt):
    with open("/proc/%d/cmdline" % pid) as f:
        argv = f.read().split("\0")
    return argv[argv.index(opt) + 1]


def host_cgroups(rt, cid):
    """The container's cgroupsPath (ctr's /<namespace>/<id>) in every
    hierarchy that has it."""
    found = []
    for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        if not os.path.isdir(root):
            continue
        for h in os.listdir(root):
            d = os.path.join(root, h, rt.ctr.namespace, cid)
            if os.path.isdir(d):
                found.append(d)
        d = os.path.join(root, rt.ctr.namespace, cid)
        if os.path.isdir(d):
            found.append(d)
    return found


def events_of(rt, cid):
    return [e for e in rt.events.for_container(cid) if e.topic.startswith("/tasks/")]


def assert_nothing_left(rt, cid):
    rt.assert_gone(cid)  # no shim, no shim socket, no mounts
    assert not os.path.exists(run_dir_of(rt, cid)), os.listdir(run_dir_of(rt, cid))
    share = run_dir_of(rt, cid) + ".bundles"  # the VM's bundle share
    assert not os.path.exists(share), os.listdir(share)
    assert not harness.mounts_under(share), harness.mounts_under(share)
    assert not os.path.exists(bundle_of(rt, cid))
    assert not host_cgroups(rt, cid), host_cgroups(rt, cid)
    assert not harness.mounts_under(bundle_of(rt, cid))


def test_vm_ctr_run_output_and_exit_code(vm):
    """`ctr run --rm`: the guest's boot id and both streams arrive, the exit
    code is ctr's, the events are in order, and nothing is left. Beside a
    container on the host, whose bundle is in the same task directory, the
    guest sees its own bundle only: the container mounts that directory (a
    bind the guest's runc makes from the guest's path, i.e. from the VM's
    bundle share, sandbox/vm/share.h) and lists it.

    The guest's root is the directory podshim-vm-image built for it, not
    the host's /: the container binds the guest's own root (/proc/self/root of its runc,
    which the shim leaves to the guest: sandbox/vm/binds.h) and
    finds the agent at its path there, but neither a marker file the test
    puts in the host's /etc nor the host's /etc/shadow. A host directory
    the container binds (as a hostPath) reaches it, read-only, through the
    VM's bundle share.

    A writable shared mapping works on a file of the container's rootfs
    (which the guest reads over 9p: the share is mounted cache=mmap, as
    cache=none refuses such a mapping with EINVAL) and on its /dev/shm."""
    rt = vm
    cid = rt.new_id("vmrun")
    other = rt.new_id("vmside")
    task_dir = os.path.dirname(bundle_of(rt, cid))
    marker = "/etc/podshim-e2e-hostonly-%s" % cid
    hostdir = os.path.join(rt.containerd.dir, "hostpath-" + cid)
    os.makedirs(hostdir)
    with open(os.path.join(hostdir, "file"), "w") as f:
        f.write("from-the-host\n")
    harness.build_probe("mmap_shared", hostdir)
    with open(marker, "w") as f:
        f.write("the host's, not the guest's\n")
    try:
        rt.ctr("run", "-d", "--runtime", rt.runtime, rt.image, other, "sleep", "600",
               timeout=60)
        rt.ctr.wait_status(other, "RUNNING")
        assert other in os.listdir(task_dir), os.listdir(task_dir)
        t0 = time.monotonic()
        p = rt.ctr("run", "--rm", *rt.vm_args, "--mount",
                   "type=bind,src=%s,dst=/bundles,options=rbind:ro" % task_dir,
                   "--mount", "type=bind,src=/proc/self/root,dst=/guestroot,options=rbind:ro",
                   "--mount", "type=bind,src=%s,dst=/hostdir,options=rbind:ro" % hostdir,
                   rt.image, cid, "sh", "-c",
                   "cat /proc/sys/kernel/random/boot_id; echo out-line; echo $(ls -a /bundles); "
                   "echo err-line >&2; "
                   "test -x /guestroot%s && echo agent-in-root; "
                   "test -e /guestroot%s && echo host-marker-seen; "
                   "test -e /guestroot/etc/shadow && echo host-shadow-seen; "
                   "cat /hostdir/file; touch /hostdir/new 2>/dev/null && echo hostdir-writable; "
                   "echo root: $(ls -A /guestroot); "
                   "/hostdir/mmap_shared /tmp/probe /dev/shm/probe; exit 5"
                   % (rt.vm_agent, marker),
                   timeout=120, check=False)
        print("ctr run --rm of a VM container: %.2f s (boot, create, run, delete)"
              % (time.monotonic() - t0))
        assert p.returncode == 5, p
        lines = p.stdout.splitlines()
        assert len(lines) == 8 and lines[1] == "out-line", p.stdout
        assert lines[6:] == ["/tmp/probe: mmap-ok", "/dev/shm/probe: mmap-ok"], p.stdout
        assert len(lines[0]) == 36 and lines[0] != host_boot_id(), (lines[0], host_boot_id())
        # its bundle, and the directory of the host paths it binds
        # (sandbox/vm/binds.h): /hostdir's
        assert lines[2].split() == [".", "..", ".%s.mounts" % cid, cid], (lines[2], other)
        # the guest's root: its agent, nothing of the host's
        assert lines[3] == "agent-in-root", p.stdout
        assert lines[4] == "from-the-host", p.stdout
        top = lines[5].split()
        assert top[0] == "root:" and "etc" not in top and "root" not in top, lines[5]
        assert not os.path.exists(os.path.join(hostdir, "new"))
        assert p.stderr.strip().endswith("err-line"), p.stderr
        rt.events.wait_for(lambda evs: any(e.topic == "/tasks/delete" for e in events_of(rt, cid)),
                           15, what="TaskDelete of %s" % cid)
        topics = [e.topic for e in events_of(rt, cid)]
        assert topics == ["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"], topics
        ex = [e for e in events_of(rt, cid) if e.topic == "/tasks/exit"][0]
        assert ex.get("exit_status") == 5, ex
        rt.ctr("containers", "rm", cid, check=False)
        assert_nothing_left(rt, cid)
    finally:
        rt.remove(cid)
        rt.remove(other)
        os.unlink(marker)
        shutil.rmtree(hostdir, ignore_errors=True)


def test_vm_ctr_qemu_death(vm):
    """A detached VM container sized from its own memory limit, in the
    container's cgroupsPath on the host, whose pids are the guest's and
    whose stats are its cgroup's in the guest; SIGKILL of its QEMU reports
    it exited 137 at once, and after `ctr task rm` nothing is left. (A
    `ctr task kill` goes through the agent as a vm pod member's
    StopContainer does, test_vm_pods.py.)"""
    rt = vm
    cid = rt.new_id("vmcrash")
    try:
        rt.ctr("run", "-d", "--fifo-dir", rt.fifo_dir, "--memory-limit", str(128 << 20),
               *rt.vm_args, rt.image, cid, "sleep", "600", timeout=120)
        rt.ctr.wait_status(cid, "RUNNING")
        qemu = qemu_of(rt, cid)
        assert qemu_option(qemu, "-m") == "384", qemu_option(qemu, "-m")  # 256 + 128
        assert os.path.isdir(run_dir_of(rt, cid))
        assert processes_mentioning(run_dir_of(rt, cid)) == [qemu]
        # QEMU exports the VM's own share: the container's bundle, bound
        # with its rootfs, and nothing else
        share = run_dir_of(rt, cid) + ".bundles"
        assert "path=%s," % share in " ".join(open("/proc/%d/cmdline" % qemu).read()
                                               .split("\0")), share
        assert os.listdir(share) == [cid], os.listdir(share)
        assert sorted(harness.mounts_under(share)) == [
            share, os.path.join(share, cid), os.path.join(share, cid, "rootfs")], \
            harness.mounts_under(share)
        assert host_cgroups(rt, cid), "QEMU runs in the container's cgroupsPath"
        lines = rt.ctr("task", "ps", cid).stdout.splitlines()
        pid = rt.ctr.task_list()[cid][0]
        assert [int(line.split()[0]) for line in lines[1:]] == [pid], lines
        # a guest pid: no process of the host runs the container's sleep
        assert not host_processes(b"sleep\x00600\x00"), "the container runs on the host"
        # its stats are its cgroup's in the guest: v2 Metrics (the guest
        # runs cgroup2), its own memory limit, its one process
        out = rt.ctr("task", "metrics", "--format", "json", cid).stdout
        m = json.loads(out)
        assert m["memory"]["usage_limit"] == 128 << 20, out
        assert m["memory"]["usage"] > 0 and m["cpu"]["usage_usec"] > 0, out
        assert m["pids"]["current"] == 1, out

        os.kill(qemu, signal.SIGKILL)
        rt.ctr.wait_status(cid, "STOPPED", timeout=20)
        rt.events.wait_for(lambda evs: any(e.topic == "/tasks/exit" and
                                           e.get("exit_status") == 137
                                           for e in events_of(rt, cid)), 10,
                           what="TaskExit 137 of %s" % cid)
        assert not os.path.exists(run_dir_of(rt, cid))
        assert not os.path.exists(share), "the share outlived QEMU"
        assert not harness.mounts_under(share), harness.mounts_under(share)
        rt.ctr("task", "rm", cid, timeout=30)
        rt.ctr("containers", "rm", cid)
        assert_nothing_left(rt, cid)
    finally:
        rt.remove(cid)


def test_vm_ctr_failed_create_leaves_nothing(vm):
    """A create that fails in the guest (no such runtime there) fails
    `ctr run` with the agent's error, and answers only once its VM is gone:
    no QEMU, run directory, mount or cgroup is left, and no event but none
    of the task's."""
    rt = vm
    cid = rt.new_id("vmbad")
    try:
        p = rt.ctr("run", "--rm", *rt.vm_bad_args, rt.image, cid, "true", timeout=120,
                   check=False)
        assert p.returncode != 0, p
        print("ctr run with no runtime in the guest: %s" % p.stderr.strip()[-300:])
        assert "exec /nonexistent/runc" in p.stderr, p.stderr
        assert not os.path.exists(run_dir_of(rt, cid))
        assert not os.path.exists(run_dir_of(rt, cid) + ".bundles")
        assert not harness.mounts_under(run_dir_of(rt, cid) + ".bundles")
        assert not host_cgroups(rt, cid), host_cgroups(rt, cid)
        assert not harness.mounts_under(bundle_of(rt, cid))
        assert not processes_mentioning(run_dir_of(rt, cid)), "its QEMU is left"
        rt.ctr("containers", "rm", cid, check=False)
        rt.assert_gone(cid)
        assert not [e for e in events_of(rt, cid) if e.topic == "/tasks/create"]
    finally:
        rt.remove(cid)


def test_vm_ctr_run_by_the_vm_name(bin_dir, asan_log_dir, vm_image):
    """`ctr run --runtime io.containerd.podshim-vm.v2` with no options: the
    shim runs as containerd-shim-podshim-vm-v2, whose defaults are the VM
    backend with the settings of PODSHIM_VM_CONFIG (src/shim/profile.h), so
    the container gets a VM of its own; nothing is left after `--rm`, its
    salted socket included. A containerd of its own: the variable is in the
    daemon's environment, which its shims inherit."""
    cd = harness.Containerd(bin_dir, asan_log_dir=asan_log_dir)
    try:
        cfg = os.path.join(cd.dir, "vm.toml")
        with open(cfg, "w") as f:
            # no VMAgent: the default, the agent's path beside the shim,
            # which is where the root holds it
            f.write(harness.vm_settings(bin_dir, vm_image, agent=False))
        cd.extra_env["PODSHIM_VM_CONFIG"] = cfg
        cd.start()
        ctr = cd.ctr("vmname")
        tar = os.path.join(cd.dir, "busybox-oci.tar")
        name = ociimage.build_archive(tar)
        ctr("images", "import", "--all-platforms", tar, timeout=120)
        cid = "byname"
        bundle = os.path.join(cd.state, "io.containerd.runtime.v2.task", "vmname", cid)
        run_dir = os.path.join(VM_RUN_DIR, hashlib.sha256(bundle.encode()).hexdigest()[:16])
        p = ctr("run", "--rm", "--runtime", "io.containerd.podshim-vm.v2", name, cid, "sh", "-c",
                "cat /proc/sys/kernel/random/boot_id; exit 4", timeout=120, check=False)
        assert p.returncode == 4, p
        assert p.stdout.strip() != host_boot_id() and len(p.stdout.strip()) == 36, p.stdout
        assert not os.path.exists(run_dir), run_dir
        assert not os.path.exists(run_dir + ".bundles"), run_dir
        assert not os.path.exists(bundle), bundle
        # containerd's Delete returns once the shim closed its connection;
        # the process (an ASan one's leak check) may take a moment more
        harness.wait_until(
            lambda: not harness.shim_processes("containerd-shim-podshim-vm-v2", "vmname"), 10,
            0.05, "the VM-named shim to exit")
        sock = harness.socket_path(cd.address, "vmname", cid, "io.containerd.podshim-vm.v2")
        assert not os.path.exists(sock), sock
    finally:
        cd.stop()
        cd.remove()
