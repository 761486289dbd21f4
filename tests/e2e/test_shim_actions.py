"""The shim binary's own actions, run as containerd runs them: `-info`
(containerd 2.x's runtime introspection) and `delete` on bundles containerd
made without a config.json.

`-info` is run directly (stdin: the options Any; stdout: a protobuf
containerd.types.RuntimeInfo) and through containerd 2.1 itself: `ctr
plugins inspect-runtime` decodes our reply with containerd's own types, and
a task whose spec has an idmapped mount makes containerd 2.1 call `-info`
before Create and refuse the task unless the OCI runtime's features say it
supports idmapped mounts (core/runtime/v2/task_manager.go:281-329). With
sid's runc 1.3.6 the container runs and sees the mount idmapped; with
bookworm's runc 1.1.5 (features without mountExtensions) and crun 1.8.1 (no
`features` at all) containerd refuses the task, which is the design.
"""

import copy
import importlib
import json
import os
import signal
import socket
import subprocess
import time

import pytest

import harness
import rawtask
import ttrpc_client as tc

PODSHIM = "io.containerd.podshim.v2"
SHIM = harness.SHIM_BINARIES[PODSHIM]
FEATURES_URL = "types.containerd.io/opencontainers/runtime-spec/1/features/Features"
RUNC_136 = os.path.join(harness.CACHE, "runc-1.3.6/usr/bin/runc")
BOOKWORM_RUNC = "/usr/bin/runc"
BOOKWORM_CRUN = "/usr/bin/crun"


@pytest.fixture(scope="module")
def pb():
    p = tc.load_protos()
    p.info = importlib.import_module("containerd.types.introspection_pb2")
    p.ro = importlib.import_module("runtimeoptions.options_pb2")
    return p


@pytest.fixture(scope="module")
def shim(bin_dir):
    path = os.path.join(bin_dir, SHIM)
    if not os.access(path, os.X_OK):
        pytest.fail("%s not found in PODSHIM_BIN_DIR=%s (build it first)" % (SHIM, bin_dir))
    return path


def _options(pb, binary):
    """The options Any containerd 2.1's CRI sends for a handler whose table
    is {BinaryName = binary}: runtimeoptions with the table inline."""
    body = ("BinaryName = '%s'\n" % binary).encode()
    ro = pb.ro.Options(config_body=body)
    return tc.any_msg(pb, "runtimeoptions.v1.Options", ro.SerializeToString())


def _info(shim, stdin=b""):
    """Runs `<shim> -info` exactly as containerd does (just that flag)."""
    p = subprocess.run([shim, "-info"], input=stdin, capture_output=True, timeout=30)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def _need(path):
    if not os.access(path, os.X_OK):
        pytest.skip("%s is not installed (scripts/fetch-containerd.sh / install-deps.sh)" % path)


# ------------------------------------------------------- -info, directly


def test_info_features_of_the_selected_runtime(shim, pb):
    """The features are those of the runtime the options select, as the
    runtime itself reports them, under containerd's type URL."""
    _need(RUNC_136)
    opts = _options(pb, RUNC_136)
    rc, out, err = _info(shim, opts.SerializeToString())
    assert rc == 0, err
    info = pb.info.RuntimeInfo.FromString(out)
    assert info.name == PODSHIM
    assert info.version.version
    assert info.options == opts  # echoed: what podshim would run with
    assert info.features.type_url == FEATURES_URL
    own = json.loads(subprocess.run([RUNC_136, "features"], capture_output=True,
                                    check=True, timeout=30).stdout)
    assert json.loads(info.features.value) == own
    assert own["linux"]["mountExtensions"]["idmap"]["enabled"] is True


def test_info_runtime_without_features(shim, pb):
    """bookworm's crun 1.8.1 has no `features`: an answer without features
    (containerd then refuses idmapped mounts), exit 0, the reason on
    stderr, and a clean protobuf on stdout."""
    _need(BOOKWORM_CRUN)
    probe = subprocess.run([BOOKWORM_CRUN, "features"], capture_output=True, timeout=30)
    if probe.returncode == 0:
        pytest.skip("this crun has `features`")
    rc, out, err = _info(shim, _options(pb, BOOKWORM_CRUN).SerializeToString())
    assert rc == 0, err
    info = pb.info.RuntimeInfo.FromString(out)
    assert info.name == PODSHIM
    assert not info.HasField("features"), info
    assert "answering without features" in err and BOOKWORM_CRUN in err, err


def test_info_errors(shim, pb):
    """A runtime that does not exist, options that are not an Any, an option
    podshim does not know: exit 1, the reason on stderr, nothing on stdout."""
    cases = [
        (_options(pb, "/nonexistent/podshim-e2e/runc").SerializeToString(),
         "/nonexistent/podshim-e2e/runc"),
        (b"\x0a\x7f", "not a protobuf Any"),
        (tc.any_msg(pb, "runtimeoptions.v1.Options", pb.ro.Options(
            config_body=b"BinaryName = 'runc'\nBinaryNmae = 'crun'\n").SerializeToString())
         .SerializeToString(), "BinaryNmae"),
        (tc.any_msg(pb, "io.example.Options", b"").SerializeToString(), "io.example.Options"),
    ]
    for stdin, needle in cases:
        rc, out, err = _info(shim, stdin)
        assert rc == 1, (needle, rc, err)
        assert out == b"", (needle, out)
        assert needle in err, (needle, err)


# ------------------------------------------- -info through containerd 2.1


def _need_21():
    d = harness.dist()
    if d.version < (2, 0, 0):
        pytest.skip("containerd %s neither runs -info nor checks idmapped mounts"
                    % d.version_text)


def _config(containerd, name, binary):
    path = os.path.join(containerd.dir, "podshim-actions-%s.toml" % name)
    with open(path, "w") as f:
        f.write("BinaryName = '%s'\n" % binary)
    return path


def test_inspect_runtime_through_containerd(containerd, ctr, shim):
    """containerd 2.1 runs `-info` and decodes the reply with its own types
    (typeurl resolves the features Any to runtime-spec's Features)."""
    _need_21()
    _need(RUNC_136)
    cfg = _config(containerd, "runc136", RUNC_136)
    p = ctr("plugins", "inspect-runtime", "--runtime", PODSHIM, "--runtime-config-path", cfg)
    info = json.loads(p.stdout)
    assert info["Name"] == PODSHIM, info
    assert info["Version"]["Version"], info
    assert info["Options"]["config_path"] == cfg, info
    assert info["Features"]["linux"]["mountExtensions"]["idmap"]["enabled"] is True, info
    # without features, containerd's client shows none (and says nothing)
    if os.access(BOOKWORM_CRUN, os.X_OK) and subprocess.run(
            [BOOKWORM_CRUN, "features"], capture_output=True, timeout=30).returncode != 0:
        p = ctr("plugins", "inspect-runtime", "--runtime", PODSHIM, "--runtime-config-path",
                _config(containerd, "crun181", BOOKWORM_CRUN))
        info = json.loads(p.stdout)
        assert info["Name"] == PODSHIM and info.get("Features") is None, info


@pytest.fixture(scope="module")
def idmap_env(containerd):
    """A busybox root file system and a host directory holding a file owned
    by root (uid 0, gid 0) to mount idmapped."""
    base = os.path.join(containerd.dir, "idmap")
    rootfs = rawtask.unpack_rootfs(os.path.join(base, "rootfs"))
    os.makedirs(os.path.join(rootfs, "idmapped"), exist_ok=True)
    src = os.path.join(base, "src")
    os.makedirs(src, exist_ok=True)
    with open(os.path.join(src, "owned-by-root"), "w") as f:
        f.write("x\n")
    os.chown(os.path.join(src, "owned-by-root"), 0, 0)
    return rootfs, src


def _idmap_spec(ctr, path, rootfs, src, args):
    """ctr's default spec, with our root, args and one idmapped bind mount
    (on-disk uid/gid 0 shows as 4242/4343 in the container)."""
    spec = json.loads(ctr("oci", "spec").stdout)
    spec = copy.deepcopy(spec)
    spec["root"] = {"path": rootfs, "readonly": True}
    spec["process"]["args"] = args
    spec["process"]["env"] = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]  # none by default
    spec["process"]["terminal"] = False
    spec["mounts"].append({
        "destination": "/idmapped", "type": "bind", "source": src,
        "options": ["rbind", "ro"],
        # as for a user-namespace pod's volumes: the on-disk id is the
        # mapping's containerID, what the mount shows its hostID
        "uidMappings": [{"containerID": 0, "hostID": 4242, "size": 1}],
        "gidMappings": [{"containerID": 0, "hostID": 4343, "size": 1}],
    })
    with open(path, "w") as f:
        json.dump(spec, f)
    return path


def _shutdown_refused_shim(containerd, ctr, cid, pb):
    """containerd 2.1.9 checks the runtime's features after it started the
    shim, and when it refuses the task it returns without shutting that shim
    down (core/runtime/v2/task_manager.go:143; the cleanup below it only
    runs when Create fails). Do what it leaves undone: Shutdown, which a
    shim without tasks answers by exiting."""
    sock = harness.socket_path(containerd.address, ctr.namespace, cid)
    if harness.shim_processes(SHIM, ctr.namespace, cid) and os.path.exists(sock):
        with tc.Client(sock, pb, timeout=5) as c:
            r = c.call("Shutdown", pb.task.ShutdownRequest(id=cid))
            assert r.code == tc.OK, r
    harness.wait_until(lambda: not harness.shim_processes(SHIM, ctr.namespace, cid), 10,
                       what="the shim of refused task %s to exit" % cid)


def _run_idmapped(containerd, ctr, idmap_env, pb, name, binary):
    rootfs, src = idmap_env
    cid = "idmap-%s-%d" % (name, os.getpid())
    spec = _idmap_spec(ctr, os.path.join(containerd.dir, "%s.json" % cid), rootfs, src,
                       ["stat", "-c", "%u:%g", "/idmapped/owned-by-root"])
    cfg = _config(containerd, name, binary)
    try:
        return ctr("run", "--rm", "--runtime", PODSHIM, "--runtime-config-path", cfg,
                   "--config", spec, cid, timeout=60, check=False)
    finally:
        ctr("task", "rm", "-f", cid, check=False, timeout=15)
        ctr("containers", "rm", cid, check=False, timeout=15)
        _shutdown_refused_shim(containerd, ctr, cid, pb)


def test_idmapped_mount_with_runc_136(containerd, ctr, idmap_env, shim, pb):
    """The container is created (containerd accepted -info's features) and
    sees the mount idmapped."""
    _need_21()
    _need(RUNC_136)
    p = _run_idmapped(containerd, ctr, idmap_env, pb, "runc136", RUNC_136)
    assert p.returncode == 0, p
    assert p.stdout.strip() == "4242:4343", p


def test_idmapped_mount_refused_without_support(containerd, ctr, idmap_env, shim, pb):
    """Bookworm's runtimes cannot do idmapped mounts and -info says so:
    containerd 2.1 refuses the task before podshim is asked to create it."""
    _need_21()
    _need(BOOKWORM_RUNC)
    p = _run_idmapped(containerd, ctr, idmap_env, pb, "runc115", BOOKWORM_RUNC)
    assert p.returncode != 0, p
    assert "idmap mounts not supported" in p.stderr, p.stderr
    if os.access(BOOKWORM_CRUN, os.X_OK) and subprocess.run(
            [BOOKWORM_CRUN, "features"], capture_output=True, timeout=30).returncode != 0:
        p = _run_idmapped(containerd, ctr, idmap_env, pb, "crun181", BOOKWORM_CRUN)
        assert p.returncode != 0, p
        assert "runtime features" in p.stderr, p.stderr


# ------------------------------------------------- delete without config.json


def _delete(shim, containerd, ns, cid, bundle):
    """`<shim> ... -id X -bundle B delete` with cwd = B, no stdin, as
    containerd 2.1 runs it (core/runtime/v2/binary.go:156-223)."""
    argv = [shim, "-namespace", ns, "-address", containerd.address,
            "-publish-binary", harness.dist().containerd, "-id", cid, "-bundle", bundle,
            "-debug", "delete"]
    return subprocess.run(argv, cwd=bundle, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=10)


def test_delete_bundle_without_config(shim, containerd, pb):
    """What containerd makes and then deletes without a spec (a failed
    create, the shim sandboxer's sandbox bundle): an empty directory, and
    one with what podshim would have left: options.json naming the
    runtime, an `address` whose socket nobody serves, a mounted rootfs."""
    ns = "e2e-del-%d" % os.getpid()
    base = os.path.join(containerd.dir, "nocfg-bundles")
    empty = os.path.join(base, "empty")
    full = os.path.join(base, "leftovers")
    for d in (empty, os.path.join(full, "rootfs")):
        os.makedirs(d, exist_ok=True)
    stale = os.path.join(base, "stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(stale)
    s.close()  # the file stays, nothing listens: a SIGKILLed shim's socket
    with open(os.path.join(full, "address"), "w") as f:
        f.write("unix://" + stale)
    with open(os.path.join(full, "options.json"), "w") as f:
        json.dump({"binary_name": "runc", "root": "/run/containerd/runc"}, f)
    harness.run(["mount", "-t", "tmpfs", "podshim-e2e", os.path.join(full, "rootfs")])
    try:
        for bundle in (empty, full):
            p = _delete(shim, containerd, ns, os.path.basename(bundle), bundle)
            assert p.returncode == 0, p
            r = pb.task.DeleteResponse.FromString(p.stdout)
            assert r.exit_status == 137 and r.exited_at.seconds > 0, r
            assert r.pid == 0, r  # no init ever ran
        assert not os.path.exists(stale), "the stale socket is still there"
        assert not harness.mounts_under(os.path.join(full, "rootfs")), "rootfs still mounted"
        # idempotent: containerd may run it again
        p = _delete(shim, containerd, ns, "leftovers", full)
        assert p.returncode == 0, p
        pb.task.DeleteResponse.FromString(p.stdout)
    finally:
        harness.run(["umount", "-l", os.path.join(full, "rootfs")], check=False)
    try:
        os.rmdir(os.path.join("/run/containerd/runc", ns))
    except OSError:
        pass


def test_delete_vm_member_leaves_host_pids(shim, containerd, pb):
    """A container in a VM has its init.pid written by the guest's runc
    through the VM's bundle share: a guest pid. The delete action of a task
    whose options.json says Backend = "vm" (the VM backend writes it,
    src/sandbox/vm/leftovers.h) reports it and kills nothing on the host,
    where the same number may be anyone's; the same bundle on the Linux
    backend (a pause-less pod's infra) gets its process killed."""
    ns = "e2e-delvm-%d" % os.getpid()
    bundle = os.path.join(containerd.dir, "vm-member-bundles", "m1")
    os.makedirs(bundle, exist_ok=True)
    victim = subprocess.Popen(["sleep", "60"])
    try:
        time.sleep(0.05)
        with open(os.path.join(bundle, "init.pid"), "w") as f:
            f.write(str(victim.pid))  # after its start: it passes the pid-reuse check
        for backend, killed in (("vm", False), (None, True)):
            opts = {"binary_name": "runc", "root": "/run/containerd/runc"}
            if backend:
                opts["backend"] = backend
            with open(os.path.join(bundle, "options.json"), "w") as f:
                json.dump(opts, f)
            p = _delete(shim, containerd, ns, "m1", bundle)
            assert p.returncode == 0, p
            r = pb.task.DeleteResponse.FromString(p.stdout)
            assert r.pid == victim.pid, r
            if not killed:
                time.sleep(0.2)
                assert victim.poll() is None, "the vm task's delete killed host pid %d" % victim.pid
            else:
                assert victim.wait(timeout=5) == -signal.SIGKILL
    finally:
        victim.kill()
        victim.wait()
    try:
        os.rmdir(os.path.join("/run/containerd/runc", ns))
    except OSError:
        pass
