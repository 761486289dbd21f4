"""Tasks driven straight through a shim's Task API, without containerd.

containerd only ever holds a task in the states it wants (ctr has no
`create` without `start`, and every ctr command cleans up after itself).
To put a task in *any* state and then ask the shim anything, the tests
create extra tasks directly on a live shim's socket, the way containerd
would: a bundle of our own (config.json derived from the host container's,
a root file system unpacked from the session's busybox layer) and a
CreateTaskRequest over ttrpc. Both shims accept several tasks per shim
(containerd's runc-v2 does for grouped containers), so the same code drives
podshim and the reference.
"""

import copy
import io
import json
import os
import shutil
import tarfile

import ociimage
import ttrpc_client as tc


def unpack_rootfs(dest):
    """A busybox root file system (the e2e image's only layer) at dest, plus
    the mount points the default ctr spec wants on a read-only root."""
    if os.path.isdir(os.path.join(dest, "bin")):
        return dest
    os.makedirs(dest, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(ociimage.build_layer()), mode="r") as tar:
        tar.extractall(dest)
    for d in ("run", "dev", "proc", "sys", "tmp"):
        os.makedirs(os.path.join(dest, d), exist_ok=True)
    return dest


class RawTasks:
    """Creates and drives tasks on one shim connection."""

    def __init__(self, client, template_bundle, work_dir, rootfs, namespace):
        self.c = client
        self.pb = client.protos
        self.work_dir = work_dir
        self.rootfs = rootfs
        self.namespace = namespace
        with open(os.path.join(template_bundle, "config.json")) as f:
            self.template = json.load(f)
        self.created = []

    def bundle(self, tid):
        return os.path.join(self.work_dir, tid)

    def spec(self, tid, args):
        spec = copy.deepcopy(self.template)
        spec["process"]["args"] = list(args)
        spec["process"]["terminal"] = False
        spec["root"] = {"path": self.rootfs, "readonly": True}
        spec.setdefault("linux", {})["cgroupsPath"] = "/%s/%s" % (self.namespace, tid)
        spec.pop("annotations", None)
        return spec

    def create(self, tid, args=("sleep", "1000"), check=True, timeout=30):
        """CreateTask; returns the Reply (OK asserted when check)."""
        b = self.bundle(tid)
        os.makedirs(b, exist_ok=True)
        with open(os.path.join(b, "config.json"), "w") as f:
            json.dump(self.spec(tid, args), f)
        self.created.append(tid)
        r = self.c.call("Create", self.pb.task.CreateTaskRequest(id=tid, bundle=b),
                        timeout=timeout)
        if check:
            assert r.code == tc.OK, "Create %s: %r" % (tid, r)
        return r

    def call(self, method, timeout=None, **fields):
        cls = {"ResizePty": "ResizePtyRequest", "CloseIO": "CloseIORequest",
               "Exec": "ExecProcessRequest", "Update": "UpdateTaskRequest",
               "Checkpoint": "CheckpointTaskRequest", "Create": "CreateTaskRequest"}.get(
                   method, method + "Request")
        return self.c.call(method, getattr(self.pb.task, cls)(**fields), timeout=timeout)

    def ok(self, method, timeout=None, **fields):
        r = self.call(method, timeout=timeout, **fields)
        assert r.code == tc.OK, "%s %s: %r" % (method, fields, r)
        return r

    def status(self, tid, exec_id=""):
        r = self.c.state(tid, exec_id)
        if r.code != tc.OK:
            return None
        return r.decode(self.pb.task.StateResponse).status

    def exec_spec(self, args, **extra):
        proc = dict(self.template["process"])
        proc.update({"args": list(args), "terminal": False})
        proc.update(extra)
        return tc.any_msg(self.pb, "types.containerd.io/opencontainers/runtime-spec/1/Process",
                          json.dumps(proc).encode())

    def exec(self, tid, exec_id, args, **extra):
        return self.call("Exec", id=tid, exec_id=exec_id, spec=self.exec_spec(args, **extra))

    def wait_exit(self, tid, exec_id="", timeout=15):
        r = self.call("Wait", timeout=timeout, id=tid, exec_id=exec_id)
        assert r.code == tc.OK, r
        return r.decode(self.pb.task.WaitResponse)

    def remove(self, tid):
        """Best effort: kill, wait and delete a task of ours."""
        st = self.status(tid)
        if st is None:
            return
        if st != self.pb.types.STOPPED:
            self.call("Kill", id=tid, signal=9, all=True)
            try:
                self.call("Wait", timeout=10, id=tid)
            except AssertionError:
                pass
        self.call("Delete", timeout=20, id=tid)

    def cleanup(self):
        for tid in self.created:
            try:
                self.remove(tid)
            except (AssertionError, OSError):
                pass
            shutil.rmtree(self.bundle(tid), ignore_errors=True)
        self.created = []
