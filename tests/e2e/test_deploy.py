"""The shipped containerd snippets (deploy/) work as README installs them.

The CRI containerd of cri/env.py gets its "podshim" handler from nowhere
else: the snippet for its config format (deploy/containerd-v2.toml for
1.6/1.7, deploy/containerd-v3.toml for 2.x) appended to its config file with
only the podshim config path substituted, that config file a copy of
deploy/podshim.toml. Here that is checked end to end under whichever
containerd PODSHIM_CONTAINERD names: CRI runs with the handler, a pod and
its containers run through it in one podshim, and the snippet's ConfigPath
is what the shim reads. The snippet of the other format is shown to be
ignored by this version (why there are two).

Under 2.x the same holds for deploy/containerd-v3-sandboxer.toml, the
handler "podshim-sb" (podshim as the pod's sandboxer, which 1.x has not):
appended verbatim (it names no podshim config file), CRI runs with it, and a
pod runs through it with no sandbox container. 1.x ignores it.
"""

import json
import os

import pytest

import harness
from cri import client as cri_client
from cri import env as cri_env_mod
from cri import host
from cri import images

PODSHIM = "io.containerd.podshim.v2"


@pytest.fixture
def podshim_pods(cri_env):
    """A PodFactory for the "podshim" handler (the snippet's)."""
    from cri import pods as cri_pods

    with cri_pods.factory_for_test(cri_env, "podshim") as factory:
        yield factory


@pytest.fixture
def sandboxer_pods(cri_env):
    """A PodFactory for the "podshim-sb" handler (the sandboxer snippet's);
    containerd 2.x only."""
    from cri import pods as cri_pods

    if not cri_env.cd.dist.v2:
        pytest.skip("containerd %s has no sandboxer: %s is for 2.x"
                    % (cri_env.cd.dist.version_text, cri_env_mod.DEPLOY_SANDBOXER_SNIPPET))
    factory = cri_pods.PodFactory(cri_env, "podshim-sb")
    yield factory
    errors = factory.cleanup()
    assert not errors, "pod cleanup failed: %s" % errors


def _handlers(config):
    return config.get("containerd", {}).get("runtimes", {})


def test_snippet_is_appended_verbatim(cri_env):
    """The config file ends with the shipped snippet, paths substituted, and
    CRI runs with its handler and options."""
    snippet = cri_env_mod.deploy_snippet(cri_env.snippet_file, cri_env.podshim_config)
    with open(cri_env.cd.config_path) as f:
        text = f.read()
    assert text.endswith(snippet), "%s does not end with %s" % (cri_env.cd.config_path,
                                                                cri_env.snippet_file)
    want = "containerd-v3.toml" if cri_env.cd.dist.v2 else "containerd-v2.toml"
    assert os.path.basename(cri_env.snippet_file) == want
    with open(cri_env.podshim_config) as f, open(cri_env_mod.DEPLOY_PODSHIM_CONFIG) as g:
        assert f.read() == g.read()
    podshim = _handlers(json.loads(cri_env.cri.status_info()["config"])).get("podshim")
    assert podshim, "CRI of %s has no podshim handler" % cri_env.cd.dist
    assert podshim.get("runtimeType") == PODSHIM, podshim
    assert (podshim.get("options") or {}).get("ConfigPath") == cri_env.podshim_config, podshim


def test_pod_runs_through_snippet(podshim_pods):
    """A pod of two containers through the snippet's handler: one podshim,
    no pause process, exec works; removed, nothing is left."""
    pods = podshim_pods
    pod = pods.run(containers=2)
    assert pods.cri.pod_state(pod.id) == "SANDBOX_READY"
    assert pods.cri.pod_status(pod.id).status.runtime_handler == "podshim"
    shims = pods.pod_shims(pod)
    assert len(shims) == 1, shims
    for cid in pod.containers:
        assert pods.env.all_shims(cid) == [], cid
        assert int(host.status(pods.container_pid(cid))["PPid"]) == shims[0], cid
        assert pods.cri.exec_sync(cid, ["echo", cid]) == (cid + "\n", "", 0)
    assert pods.pause_processes(pod, shims) == []
    assert host.cmdline(pod.pid) != images.PAUSE_ARGV
    rem = pods.snapshot(pod)
    pods.remove(pod)
    left = pods.leftovers(rem)
    assert not left, "pod %s left behind:\n  %s" % (pod.id, "\n  ".join(left))


def test_snippet_config_path_reaches_the_shim(podshim_pods):
    """The shim reads the file the snippet's ConfigPath names: with the file
    gone, RunPodSandbox fails naming it; put back, pods run again."""
    pods = podshim_pods
    path = pods.env.podshim_config
    aside = path + ".aside"
    cfg = pods.pod_config()
    os.rename(path, aside)
    try:
        with pytest.raises(pods.cri.grpc.RpcError) as err:
            pods.cri.run_pod(cfg, "podshim")
        assert path in err.value.details(), err.value.details()
    finally:
        os.rename(aside, path)
        # a sandbox record may be left by the failed run: remove what CRI lists
        for p in pods.cri.list_pods():
            if p.metadata.name == cfg.metadata.name:
                pods.cri.stop_pod(p.id)
                pods.cri.remove_pod(p.id)
                harness.wait_until(lambda: not pods.env.all_shims(p.id), 10,
                                   what="the failed pod's shim to exit")
    pod = pods.run(containers=1)
    assert pods.cri.pod_state(pod.id) == "SANDBOX_READY"
    pods.remove(pod)


def test_sandboxer_snippet_is_appended_verbatim(sandboxer_pods):
    """2.x: the config file holds the shim-sandboxer snippet as shipped, and
    CRI runs with its handler: podshim's runtime type, sandboxer "shim", no
    options (containerd 2.1 would fail a sandboxed container's start on
    podshim's options type)."""
    env = sandboxer_pods.env
    with open(env.cd.config_path) as f:
        assert cri_env_mod.deploy_sandboxer_snippet() in f.read()
    sb = _handlers(json.loads(env.cri.status_info()["config"])).get("podshim-sb")
    assert sb, "CRI of %s has no podshim-sb handler" % env.cd.dist
    assert (sb.get("runtimeType"), sb.get("sandboxer")) == (PODSHIM, "shim"), sb
    assert not sb.get("options"), sb


def test_pod_runs_through_sandboxer_snippet(sandboxer_pods):
    """A pod of two containers through the sandboxer snippet's handler: no
    sandbox container in containerd, a pod bundle without a spec, one
    podshim serving the pod, no pause process, exec works; removed, nothing
    is left."""
    pods = sandboxer_pods
    pod = pods.run(containers=2)
    assert pods.cri.pod_state(pod.id) == "SANDBOX_READY"
    assert pods.cri.pod_status(pod.id).status.runtime_handler == "podshim-sb"
    listed = set(pods.env.ctr("containers", "ls", "-q").stdout.split())
    assert set(pod.containers) <= listed and pod.id not in listed, listed
    bundle = pods.env.bundle(pod.id)
    assert bundle == pods.env.sandbox_bundle(pod.id), bundle
    assert not os.path.exists(os.path.join(bundle, "config.json")), bundle
    shims = pods.pod_shims(pod)
    assert len(shims) == 1, shims
    for cid in pod.containers:
        assert pods.env.all_shims(cid) == [], cid
        assert int(host.status(pods.container_pid(cid))["PPid"]) == shims[0], cid
        assert pods.cri.exec_sync(cid, ["echo", cid]) == (cid + "\n", "", 0)
    assert pods.pause_processes(pod, shims) == []
    rem = pods.snapshot(pod)
    pods.remove(pod)
    left = pods.leftovers(rem)
    assert not left, "pod %s left behind:\n  %s" % (pod.id, "\n  ".join(left))


def test_other_format_snippet_is_ignored(bin_dir, asan_log_dir):
    """The snippet of the other config format gives this containerd no
    podshim handler: 2.x ignores 1.x tables in a version 3 file (logging
    "Ignoring unknown key", cmd/containerd/server/config/config.go:274 of
    2.1.9) and 1.x knows no io.containerd.cri.v1.runtime plugin (so no
    podshim-sb either from the sandboxer snippet)."""
    d = harness.dist()
    other = cri_env_mod.deploy_snippet_file(d, other=True)
    extra = cri_env_mod.deploy_snippet(other, cri_env_mod.DEPLOY_CONFIG_PATH)
    if not d.v2:
        extra = cri_env_mod.deploy_sandboxer_snippet() + extra
    cd = harness.Containerd(bin_dir, cri=True, asan_log_dir=asan_log_dir, extra_config=extra)
    cri = None
    try:
        cd.start()
        cri = cri_client.CriClient(cd.address)
        handlers = _handlers(json.loads(cri.status_info()["config"]))
        assert "runc" in handlers, handlers  # the positive control: CRI's default
        assert "podshim" not in handlers, (other, handlers)
        assert "podshim-sb" not in handlers, handlers
        if d.v2:
            assert "Ignoring unknown key" in cd.log_tail(200000), cd.log_tail()
    finally:
        if cri is not None:
            cri.close()
        cd.stop()
        cd.remove()
