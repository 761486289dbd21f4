"""A CRI runtime.v1 client for containerd's CRI plugin.

Stubs come from proto/cri_api.proto, compiled once per process into a temp
dir with grpc_tools (Debian python3-grpc-tools). Every RPC carries a deadline
so a wedged runtime fails the test instead of hanging it.
"""

import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "proto")
PROTO_FILE = "cri_api.proto"

_stubs = None


class Stubs:
    def __init__(self, pb, pb_grpc, outdir):
        self.pb = pb
        self.pb_grpc = pb_grpc
        self.dir = outdir


def _stubs_current(outdir):
    """Stubs generated in outdir from the proto as it is now."""
    src = os.path.join(PROTO_DIR, PROTO_FILE)
    try:
        return all(os.path.getmtime(os.path.join(outdir, f)) >= os.path.getmtime(src)
                   for f in ("cri_api_pb2.py", "cri_api_pb2_grpc.py"))
    except OSError:
        return False


def load_stubs(outdir=None):
    """Generate and import cri_api_pb2 / cri_api_pb2_grpc (once). With
    outdir, the stubs are kept there and generated only when missing or
    older than the proto (scripts/podctl, one process per command);
    without, in a fresh temp dir."""
    global _stubs
    if _stubs is not None:
        return _stubs
    if outdir is not None and _stubs_current(outdir):
        return _import_stubs(outdir)
    if outdir is None:
        outdir = tempfile.mkdtemp(prefix="ps-cri-pb2-")
    else:
        os.makedirs(outdir, exist_ok=True)
    argv = [sys.executable, "-m", "grpc_tools.protoc", "-I", PROTO_DIR,
            "--python_out=" + outdir, "--grpc_python_out=" + outdir, PROTO_FILE]
    p = subprocess.run(argv, capture_output=True, timeout=60)
    if p.returncode != 0:
        # fall back to protoc + the C++ grpc plugin (protobuf-compiler-grpc)
        plugin = shutil.which("grpc_python_plugin")
        if not plugin:
            raise RuntimeError("cannot generate CRI stubs: %s"
                               % p.stderr.decode(errors="replace"))
        argv = ["protoc", "-I", PROTO_DIR, "--python_out=" + outdir,
                "--grpc_python_out=" + outdir,
                "--plugin=protoc-gen-grpc_python=" + plugin, PROTO_FILE]
        p = subprocess.run(argv, capture_output=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError("protoc failed: %s" % p.stderr.decode(errors="replace"))
    return _import_stubs(outdir)


def _import_stubs(outdir):
    global _stubs
    sys.path.insert(0, outdir)
    try:
        pb = importlib.import_module("cri_api_pb2")
        pb_grpc = importlib.import_module("cri_api_pb2_grpc")
    finally:
        sys.path.remove(outdir)
    _stubs = Stubs(pb, pb_grpc, outdir)
    return _stubs


class CriClient:
    """RuntimeService + ImageService on one channel; `pb` is the message module."""

    def __init__(self, socket_path, timeout=30, connect_timeout=15, stubs_dir=None):
        import grpc  # only /usr/bin/python3 has it; fail at use, not at import

        self.grpc = grpc
        stubs = load_stubs(stubs_dir)
        self.pb = stubs.pb
        self.timeout = timeout
        self.channel = grpc.insecure_channel("unix://" + socket_path,
                                             options=[("grpc.enable_http_proxy", 0)])
        grpc.channel_ready_future(self.channel).result(timeout=connect_timeout)
        self.runtime = stubs.pb_grpc.RuntimeServiceStub(self.channel)
        self.images = stubs.pb_grpc.ImageServiceStub(self.channel)

    def close(self):
        self.channel.close()

    def call(self, method, request, timeout=None):
        stub = self.images if method in ("ListImages", "ImageStatus", "PullImage") else self.runtime
        return getattr(stub, method)(request, timeout=timeout or self.timeout)

    def code_of(self, method, request, timeout=None):
        """The gRPC status code name of a call ("OK" on success)."""
        try:
            self.call(method, request, timeout)
            return "OK"
        except self.grpc.RpcError as e:
            return e.code().name

    # ------------------------------------------------------------ shortcuts

    def version(self):
        return self.call("Version", self.pb.VersionRequest(version="v1"))

    def conditions(self):
        st = self.call("Status", self.pb.StatusRequest())
        return {c.type: c.status for c in st.status.conditions}

    def status_info(self):
        """containerd's verbose runtime status ("config", "cniconfig", ...)."""
        return dict(self.call("Status", self.pb.StatusRequest(verbose=True)).info)

    def image_present(self, name):
        r = self.call("ImageStatus", self.pb.ImageStatusRequest(
            image=self.pb.ImageSpec(image=name)))
        return bool(r.image.id)

    def run_pod(self, config, handler, timeout=60):
        r = self.call("RunPodSandbox", self.pb.RunPodSandboxRequest(
            config=config, runtime_handler=handler), timeout)
        return r.pod_sandbox_id

    def pod_status(self, pod_id, verbose=False):
        return self.call("PodSandboxStatus", self.pb.PodSandboxStatusRequest(
            pod_sandbox_id=pod_id, verbose=verbose))

    def pod_info(self, pod_id):
        """containerd's verbose sandbox info (pid, runtimeSpec, ...) as a dict."""
        return json.loads(self.pod_status(pod_id, verbose=True).info["info"])

    def pod_state(self, pod_id):
        return self.pb.PodSandboxState.Name(self.pod_status(pod_id).status.state)

    def stop_pod(self, pod_id, timeout=60):
        self.call("StopPodSandbox", self.pb.StopPodSandboxRequest(pod_sandbox_id=pod_id),
                  timeout)

    def remove_pod(self, pod_id, timeout=60):
        self.call("RemovePodSandbox", self.pb.RemovePodSandboxRequest(pod_sandbox_id=pod_id),
                  timeout)

    def list_pods(self):
        return list(self.call("ListPodSandbox", self.pb.ListPodSandboxRequest()).items)

    def create_container(self, pod_id, config, sandbox_config, timeout=60):
        return self.call("CreateContainer", self.pb.CreateContainerRequest(
            pod_sandbox_id=pod_id, config=config, sandbox_config=sandbox_config),
            timeout).container_id

    def start_container(self, cid, timeout=60):
        self.call("StartContainer", self.pb.StartContainerRequest(container_id=cid), timeout)

    def stop_container(self, cid, grace=0, timeout=60):
        self.call("StopContainer", self.pb.StopContainerRequest(container_id=cid,
                                                                 timeout=grace), timeout)

    def remove_container(self, cid, timeout=60):
        self.call("RemoveContainer", self.pb.RemoveContainerRequest(container_id=cid), timeout)

    def container_status(self, cid, verbose=False):
        return self.call("ContainerStatus", self.pb.ContainerStatusRequest(
            container_id=cid, verbose=verbose))

    def container_info(self, cid):
        return json.loads(self.container_status(cid, verbose=True).info["info"])

    def container_state(self, cid):
        return self.pb.ContainerState.Name(self.container_status(cid).status.state)

    def list_containers(self, pod_id=None):
        flt = self.pb.ContainerFilter(pod_sandbox_id=pod_id or "")
        return list(self.call("ListContainers",
                              self.pb.ListContainersRequest(filter=flt)).containers)

    def exec_sync(self, cid, cmd, limit=20):
        """(stdout str, stderr str, exit code); the exec itself is bounded by
        limit seconds and the RPC by a little more."""
        r = self.call("ExecSync", self.pb.ExecSyncRequest(container_id=cid, cmd=list(cmd),
                                                         timeout=limit), limit + 10)
        return r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"), r.exit_code

    # ------------------------------------------------- resources and stats

    def update_container_resources(self, cid, resources, timeout=60):
        """UpdateContainerResources with a LinuxContainerResources."""
        self.call("UpdateContainerResources", self.pb.UpdateContainerResourcesRequest(
            container_id=cid, linux=resources), timeout)

    def container_stats(self, cid):
        return self.call("ContainerStats", self.pb.ContainerStatsRequest(
            container_id=cid)).stats

    def list_container_stats(self, pod_id=None, cid=None):
        flt = self.pb.ContainerStatsFilter(id=cid or "", pod_sandbox_id=pod_id or "")
        return list(self.call("ListContainerStats",
                              self.pb.ListContainerStatsRequest(filter=flt)).stats)

    def checkpoint_container(self, cid, location, timeout=120):
        self.call("CheckpointContainer", self.pb.CheckpointContainerRequest(
            container_id=cid, location=location, timeout=timeout), timeout + 10)

    def pod_stats(self, pod_id):
        return self.call("PodSandboxStats", self.pb.PodSandboxStatsRequest(
            pod_sandbox_id=pod_id)).stats
