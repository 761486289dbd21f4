"""User-namespace pods through containerd 2.1's CRI (issue 11 item 4).

A pod with linux.security_context.namespace_options.userns_options (mode
POD, container ids 0..65535 -> host 100000..165535), as kubelet asks for
`hostUsers: false`. Every test runs once per CRI runtime handler
(PODSHIM_CRI_HANDLERS, default "runc,podshim"): `runc` is containerd 2.1's
own runc-v2 shim with the pause image, the reference every assertion is
also checked against; `podshim` is ours, whose pause-less infra process
joins the user namespace containerd made for the pod and creates the pod's
other namespaces inside it; `podshim-sb` (under 2.x, when listed) is podshim
as the shim sandboxer, where CRI makes only the network namespace inside a
new user namespace and hands over its path and the maps with CreateSandbox:
the infra process joins the user namespace that owns that network namespace
(src/sandbox/pod_spec.h).

What containerd 2.1 does for such a pod (internal/cri/server): it makes the
network namespace inside a new user namespace with the pod's maps, pins that
user namespace, and gives the sandbox spec a "user" namespace with that
path plus uidMappings/gidMappings; a container's spec joins
/proc/<sandbox pid>/ns/user with the same maps, and its /etc/hosts,
/etc/hostname, /etc/resolv.conf (and kubelet's volumes) are idmapped bind
mounts.

Requirements, each a skip with its reason when unmet:
  - containerd 2.1 or later (PODSHIM_CONTAINERD=2.1.9);
  - an OCI runtime with idmapped mounts first on PATH
    (PODSHIM_OCI_DIRS=runc-1.3.6,crun-1.28: bookworm's runc 1.1.5 has none);
  - containers only, podshim only: `containerd-shim-podshim-v2 -info`.
    containerd 2.1 runs `<shim> -info` before it creates a task whose spec
    has idmapped mounts, and fails the task without runtime features; podshim
    gains `-info` on branch wip/v3. The pod-level test needs no -info (the
    sandbox spec has no idmapped mount).

The containers of the podshim run use the handler podshim-noopts (podshim
without an options table; cri/env.py says why containerd 2.1 needs that).

test_new_userns_sandbox covers the other way a spec asks for a user
namespace: without a path, with the maps to write (`ctr run --uidmap`, any
containerd version, PODSHIM_E2E_RUNTIMES with runc): podshim then creates
the user namespace itself, with the pod's new namespaces inside it, and
still brings `lo` up in the new network namespace; runc-v2 runs the same
task as a plain container, the reference for the maps and namespaces.
"""

import fcntl
import json
import os
import shutil
import subprocess
import tempfile

import pytest

import harness

from cri import env as cri_env_mod
from cri import host
from cri import pods as cri_pods

MAP = {"container_id": 0, "host_id": 100000, "length": 65536}
PAUSE_UID = 65535  # the pause image's user and podshim's infra default
NS_GET_USERNS = 0xB701  # _IO(0xb7, 0x1), linux/nsfs.h
NO_INFO = ("podshim has no `-info` yet (branch wip/v3): containerd 2.1 runs "
           "`containerd-shim-podshim-v2 -info` before creating a task whose spec has "
           "idmapped mounts (every container of a user-namespace pod) and fails the "
           "task without the runtime's features")


def _podshim(pods):
    return pods.handler.startswith("podshim")


def _shim_mode(pods):
    return pods.handler in cri_env_mod.SHIM_SANDBOXER


def _pod_links(pods, pod):
    """The link names of the pod's own task's v1 Metrics, from the shim."""
    type_url, metrics = pods.own_task_metrics(pod)
    assert type_url == "io.containerd.cgroups.v1.Metrics", type_url
    return {n.name for n in metrics.network}


def _require_userns_env(env):
    d = env.cd.dist
    if d.version < (2, 1):
        pytest.skip("user-namespace pods are tested under containerd 2.1 "
                    "(PODSHIM_CONTAINERD=2.1.9); this is %s" % d.version_text)
    runc = shutil.which("runc")
    out = harness.run([runc, "features"], timeout=10, check=False) if runc else None
    try:
        feats = json.loads(out.stdout) if out and out.returncode == 0 else {}
    except ValueError:
        feats = {}
    idmap = feats.get("linux", {}).get("mountExtensions", {}).get("idmap", {})
    if not idmap.get("enabled"):
        pytest.skip("containerd 2.1's user-namespace pods need an OCI runtime with idmapped "
                    "mounts; %s has none: put sid's first, PODSHIM_OCI_DIRS=runc-1.3.6,"
                    "crun-1.28" % runc)


def _has_info(bin_dir):
    """podshim answers `-info` (exit 0, a RuntimeInfo on stdout)."""
    shim = os.path.join(bin_dir, harness.SHIM_BINARIES["io.containerd.podshim.v2"])
    p = subprocess.run([shim, "-info"], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=30)
    return p.returncode == 0 and len(p.stdout) > 0


@pytest.fixture
def upods(cri_env, cri_handler, bin_dir):
    """Like `pods`, for pods whose containers run: podshim through the
    handler without options (module docstring)."""
    _require_userns_env(cri_env)
    if cri_handler == "podshim" and not _has_info(bin_dir):
        pytest.skip(NO_INFO)
    handler = {"podshim": "podshim-noopts"}.get(cri_handler, cri_handler)
    with cri_pods.factory_for_test(cri_env, handler) as factory:
        yield factory


def _run_userns_pod(pods):
    pb = pods.pb
    cfg = pods.pod_config(pid_mode="POD")
    m = pb.IDMapping(**MAP)
    cfg.linux.security_context.namespace_options.userns_options.CopyFrom(
        pb.UserNamespace(mode=pb.POD, uids=[m], gids=[m]))
    return pods.run_config(cfg)


def _map_lines(text):
    return [tuple(int(x) for x in line.split()) for line in text.splitlines() if line.strip()]


def _map_of(pid, which):
    with open("/proc/%d/%s" % (pid, which)) as f:
        return _map_lines(f.read())


WANT_MAP = [(MAP["container_id"], MAP["host_id"], MAP["length"])]


def _ns_id(path):
    st = os.stat(path)
    return (st.st_dev, st.st_ino)


def _owner_userns(path):
    """(dev, ino) of the user namespace that owns the namespace at path."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        ufd = fcntl.ioctl(fd, NS_GET_USERNS)
    finally:
        os.close(fd)
    try:
        st = os.fstat(ufd)
        return (st.st_dev, st.st_ino)
    finally:
        os.close(ufd)


def _host_ids(pid):
    s = host.status(pid)
    return int(s["Uid"].split()[0]), int(s["Gid"].split()[0])


def _pod_cgroup_dirs(pods, pod):
    """The sandbox's own cgroup directories (cgroup_parent/<sandbox id>)."""
    parent = pod.config.linux.cgroup_parent.strip("/")
    return [d for d in host.cgroup_dirs_matching([pod.id], below=parent)
            if os.path.basename(d) == pod.id]


def _remove_and_check(pods, pod, rem):
    pods.remove(pod)
    left = pods.leftovers(rem)
    assert not left, "pod %s left behind:\n  %s" % (pod.id, "\n  ".join(left))


def test_userns_pod(pods):
    """The sandbox of a user-namespace pod: in the user namespace containerd
    pinned for the pod (the owner of the pod's network namespace), mapped as
    asked, the pod's pid, ipc and uts namespaces owned by it, running as the
    pause user 65535 inside (165535 on the host), its cgroup as runc-v2
    leaves it; and nothing left once removed."""
    _require_userns_env(pods.env)
    pod = _run_userns_pod(pods)
    rem = pods.snapshot(pod)
    spec_ns = {n["type"]: n.get("path") for n in
               pod.info["runtimeSpec"]["linux"]["namespaces"]}
    linux = pod.info["runtimeSpec"]["linux"]
    # what containerd 2.1 asks of the sandbox: join its pinned user
    # namespace, whose maps it also states
    assert spec_ns.get("user"), spec_ns
    assert linux.get("uidMappings") == [{"containerID": 0, "hostID": 100000, "size": 65536}]
    assert linux.get("gidMappings") == linux["uidMappings"]

    pid = pod.pid
    userns = "/proc/%d/ns/user" % pid
    assert _ns_id(userns) == _ns_id(spec_ns["user"]), "not in the pinned user namespace"
    assert _ns_id(userns) != _ns_id("/proc/self/ns/user")
    assert _map_of(pid, "uid_map") == WANT_MAP
    assert _map_of(pid, "gid_map") == WANT_MAP
    assert _ns_id("/proc/%d/ns/net" % pid) == _ns_id(pod.netns_path)
    for kind in ("pid", "ipc", "uts", "net"):
        assert _owner_userns("/proc/%d/ns/%s" % (pid, kind)) == _ns_id(userns), kind
    for kind in ("pid", "ipc", "uts"):
        assert _ns_id("/proc/%d/ns/%s" % (pid, kind)) != _ns_id("/proc/self/ns/" + kind), kind
    assert host.status(pid)["NSpid"].split()[-1] == "1"
    assert _host_ids(pid) == (MAP["host_id"] + PAUSE_UID, MAP["host_id"] + PAUSE_UID)
    if _podshim(pods):
        assert host.status(pid)["CapEff"] == "0000000000000000"
        assert host.status(pid)["NoNewPrivs"] == "1"
        assert pods.pause_processes(pod, rem.shim_pids) == []

    # the sandbox task's Stats: podshim reads the pod's links through a
    # helper that enters the network namespace the pod's user namespace owns
    # (asked of the shim itself: in shim mode containerd has no task for it)
    if _podshim(pods) and os.path.exists("/sys/fs/cgroup/memory/memory.stat"):
        assert "eth0" in _pod_links(pods, pod)  # CNI's interface (lo is left out)
    elif not _shim_mode(pods):
        json.loads(pods.env.ctr("tasks", "metrics", "--format", "json", pod.id).stdout)

    # the sandbox cgroup: in every hierarchy, owned by root as runc-v2
    # leaves it (runc gives a cgroup to the container's root only with a
    # private cgroup namespace and a writable cgroupfs, never a sandbox's)
    dirs = _pod_cgroup_dirs(pods, pod)
    assert dirs, "no cgroup named %s below %s" % (pod.id, pod.config.linux.cgroup_parent)
    for d in dirs:
        st = os.stat(d)
        assert (st.st_uid, st.st_gid) == (0, 0), (d, st.st_uid, st.st_gid)
        with open(os.path.join(d, "cgroup.procs")) as f:
            assert str(pid) in f.read().split(), d

    _remove_and_check(pods, pod, rem)
    assert not os.path.exists(spec_ns["user"]), "pinned user namespace left"


def _dir_for(uid, gid):
    d = tempfile.mkdtemp(prefix="ps-userns-")
    os.chown(d, uid, gid)
    os.chmod(d, 0o755)
    return d


def test_userns_container(upods):
    """A container of a user-namespace pod: root inside is host 100000, it
    sees the pod's maps, owns what it creates in its rootfs (host 100000),
    in a kubelet-style idmapped emptyDir (host root's, the volume's owner)
    and in a plain hostPath the mapped root owns (host 100000); exec works;
    and stop/remove leaves nothing."""
    pods = upods
    pb = pods.pb
    pod = _run_userns_pod(pods)
    m = pb.IDMapping(**MAP)
    empty_dir = _dir_for(0, 0)  # kubelet's emptyDir: root's, idmapped into the pod
    host_path = _dir_for(MAP["host_id"], MAP["host_id"])
    try:
        cfg = pods.container_config(pod, "c0", ("sleep", "1000"))
        cfg.mounts.extend([
            pb.Mount(container_path="/empty", host_path=empty_dir, uidMappings=[m],
                     gidMappings=[m]),
            pb.Mount(container_path="/plain", host_path=host_path),
        ])
        cid = pods.cri.create_container(pod.id, cfg, pod.config)
        pod.containers.append(cid)
        pods.cri.start_container(cid)
        rem = pods.snapshot(pod)
        cpid = pods.container_pid(cid)

        # the container joined the pod's user namespace and the others
        for kind in ("user", "ipc", "uts", "net", "pid"):
            assert _ns_id("/proc/%d/ns/%s" % (cpid, kind)) == \
                _ns_id("/proc/%d/ns/%s" % (pod.pid, kind)), kind
        assert _host_ids(cpid) == (MAP["host_id"], MAP["host_id"])

        def sh(script):
            out, err, code = pods.cri.exec_sync(cid, ["sh", "-c", script])
            assert code == 0, (script, out, err)
            return out

        assert _map_lines(sh("cat /proc/self/uid_map")) == WANT_MAP
        assert _map_lines(sh("cat /proc/self/gid_map")) == WANT_MAP
        assert sh("id -u; id -g").split() == ["0", "0"]
        sh("echo x > /made-in-rootfs && echo y > /empty/f && echo z > /plain/f")
        assert sh("stat -c '%u %g' /made-in-rootfs /empty/f /plain/f").split() == ["0"] * 6
        # the same files from the host
        st = os.stat("/proc/%d/root/made-in-rootfs" % cpid)
        assert (st.st_uid, st.st_gid) == (MAP["host_id"], MAP["host_id"])
        st = os.stat(os.path.join(empty_dir, "f"))
        assert (st.st_uid, st.st_gid) == (0, 0), "idmapped emptyDir: stored as its owner's"
        st = os.stat(os.path.join(host_path, "f"))
        assert (st.st_uid, st.st_gid) == (MAP["host_id"], MAP["host_id"])
        # an exec is in the pod's user namespace too, and the container can
        # read its own cgroup
        assert sh("readlink /proc/self/ns/user").strip() == \
            os.readlink("/proc/%d/ns/user" % pod.pid)
        assert sh("cat /proc/self/cgroup").strip()

        _remove_and_check(pods, pod, rem)
    finally:
        for d in (empty_dir, host_path):
            shutil.rmtree(d, ignore_errors=True)


def _sandbox_annotations(cid):
    """What makes a `ctr run` task a pod's sandbox for podshim (as CRI marks it)."""
    return ("--annotation", "io.kubernetes.cri.container-type=sandbox",
            "--annotation", "io.kubernetes.cri.sandbox-id=%s" % cid)


def _lo_flags(pid):
    """The flags of `lo` in pid's network namespace, as `ip` prints them."""
    out = harness.run(["nsenter", "-t", str(pid), "-n", "ip", "-o", "link", "show", "lo"],
                      timeout=10).stdout
    return out.split("<", 1)[1].split(">", 1)[0].split(",")


def test_new_userns_sandbox(rt_runc):
    """A sandbox task whose spec asks for a new user namespace with maps
    (no path): the maps are written, every new namespace of the pod belongs
    to it, `lo` is up in the new network namespace, and nothing is left."""
    rt = rt_runc
    cid = rt.new_id("userns")
    m = "%d:%d:%d" % (MAP["container_id"], MAP["host_id"], MAP["length"])
    try:
        rt.ctr("run", "-d", "--fifo-dir", rt.fifo_dir, *rt.run_args(), "--uidmap", m,
               "--gidmap", m, *_sandbox_annotations(cid), rt.image, cid, "sleep", "1000",
               timeout=120)
        rt.ctr.wait_status(cid, "RUNNING")
        pid = rt.ctr.task_list()[cid][0]
        userns = "/proc/%d/ns/user" % pid
        assert _ns_id(userns) != _ns_id("/proc/self/ns/user")
        assert _map_of(pid, "uid_map") == WANT_MAP
        assert _map_of(pid, "gid_map") == WANT_MAP
        for kind in ("pid", "ipc", "uts", "net"):
            assert _ns_id("/proc/%d/ns/%s" % (pid, kind)) != _ns_id("/proc/self/ns/" + kind)
            assert _owner_userns("/proc/%d/ns/%s" % (pid, kind)) == _ns_id(userns), kind
        assert "UP" in _lo_flags(pid), _lo_flags(pid)
        # root inside for runc's sleep; the infra process never runs as root
        inside = PAUSE_UID if rt.podshim else 0
        assert _host_ids(pid) == (MAP["host_id"] + inside, MAP["host_id"] + inside)
        if rt.podshim:
            assert host.cmdline(pid) == ["podshim-infra"]
    finally:
        rt.remove(cid)
    rt.assert_gone(cid)
    assert not host.alive(pid)
