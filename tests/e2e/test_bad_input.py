"""Hostile and malformed input on a live shim socket.

A long-lived task is started through the private containerd; the test then
connects straight to its shim's socket (found through the bundle's `address`
file) with tests/e2e/ttrpc_client.py and sends broken frames, bad ids, bad
bundles and illegal state transitions. Every case checks the exact gRPC code
and then that the shim still serves: State of the running task answers
RUNNING with the right pid, on the same connection where it must survive and
on a fresh one.

The framing cases also run against containerd-shim-runc-v2 as the reference
(docs/shim-protocol.md §3); everything else is podshim's own contract.
"""

import importlib
import io
import json
import os
import socket
import tarfile
import time

import pytest

import harness
import ociimage
import ttrpc_client as tc
from ttrpc_client import (ALREADY_EXISTS, DEADLINE_EXCEEDED, FAILED_PRECONDITION,
                          INVALID_ARGUMENT, NOT_FOUND, OK, RESOURCE_EXHAUSTED, UNIMPLEMENTED)

PODSHIM = "io.containerd.podshim.v2"
RUNC_V2 = "io.containerd.runc.v2"
RUNNING = 2  # containerd.v1.types.Status
LOOP = "trap 'exit 0' TERM; while :; do sleep 0.1; done"
RESOURCES_URL = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"
PROCESS_URL = "types.containerd.io/opencontainers/runtime-spec/1/Process"
REPLY_TIMEOUT = 5  # a parked or lost reply shows up as a failure, not a hang


@pytest.fixture(scope="module")
def pb():
    return tc.load_protos()


class LiveShim:
    """A running task and the shim serving it."""

    def __init__(self, runtime, cid, pid, bundle, endpoint, shim_pid, pb):
        self.runtime = runtime
        self.cid = cid
        self.pid = pid
        self.bundle = bundle
        self.socket = endpoint.socket
        self.service = endpoint.service  # v3 for containerd 2.x's runc-v2
        self.shim_pid = shim_pid
        self.pb = pb

    def client(self):
        return tc.Client(self.socket, self.pb, timeout=REPLY_TIMEOUT, service=self.service)

    def fds(self):
        """{fd: link target} of the shim."""
        d = "/proc/%d/fd" % self.shim_pid
        out = {}
        for n in os.listdir(d):
            try:
                out[int(n)] = os.readlink(os.path.join(d, n))
            except OSError:
                pass
        return out

    def fd_count(self):
        return len(self.fds())

    def wait_fds_back(self, before, timeout=5):
        """Waits until the shim holds no fd that `before` (a fds() map)
        did not; reports the extra ones otherwise."""
        def extra():
            now = self.fds()
            return {fd: t for fd, t in now.items() if before.get(fd) != t}
        try:
            harness.wait_until(lambda: not extra(), timeout)
        except AssertionError:
            raise AssertionError("shim %d leaked fds: %s" % (self.shim_pid, extra())) from None

    def alive(self):
        try:
            with open("/proc/%d/stat" % self.shim_pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    def assert_serving(self, conn=None):
        """State of the task answers RUNNING with its pid, on `conn` (if the
        connection must have survived) and on a new connection."""
        assert self.alive(), "shim %d died" % self.shim_pid
        fresh = self.client()
        try:
            for c in ([conn] if conn is not None else []) + [fresh]:
                r = c.state(self.cid)
                assert r.code == OK, r
                st = r.decode(self.pb.task.StateResponse)
                assert (st.status, st.pid) == (RUNNING, self.pid), st
        finally:
            fresh.close()


def _start_live(containerd, ctr, image, runtime, pb):
    short = "pod" if runtime == PODSHIM else "runc"
    cid = "badin-%s-%d" % (short, os.getpid())
    fifo_dir = os.path.join(containerd.dir, "fifo")
    ctr("run", "-d", "--fifo-dir", fifo_dir, "--runtime", runtime, image, cid, "sh", "-c", LOOP)
    ctr.wait_status(cid, "RUNNING")
    pid = ctr.task_list()[cid][0]
    bundle = os.path.join(containerd.state, "io.containerd.runtime.v2.task", ctr.namespace, cid)
    endpoint = harness.ShimEndpoint(bundle)
    binary = harness.SHIM_BINARIES[runtime]
    shims = harness.shim_processes(binary, ctr.namespace, cid)
    assert len(shims) == 1, shims
    live = LiveShim(runtime, cid, pid, bundle, endpoint, shims[0], pb)
    live.assert_serving()
    return live


def _stop_live(ctr, live):
    ctr("task", "kill", "-a", "-s", "SIGKILL", live.cid, check=False, timeout=10)
    ctr("task", "rm", "-f", live.cid, check=False, timeout=15)
    ctr("containers", "rm", live.cid, check=False, timeout=15)
    # after all the abuse, the last Delete + Shutdown still ends the shim
    harness.wait_until(lambda: not live.alive(), 10,
                       what="shim %d to exit after its task was removed" % live.shim_pid)
    assert not os.path.exists(live.socket), live.socket


@pytest.fixture(scope="module")
def pod(bin_dir, containerd, ctr, image, pb):
    """The podshim task every podshim-only case uses."""
    if not os.access(os.path.join(bin_dir, harness.SHIM_BINARIES[PODSHIM]), os.X_OK):
        pytest.fail("containerd-shim-podshim-v2 not found in PODSHIM_BIN_DIR=%s" % bin_dir)
    live = _start_live(containerd, ctr, image, PODSHIM, pb)
    yield live
    _stop_live(ctr, live)


@pytest.fixture(scope="module", params=["podshim", "runcv2"])
def live(request, containerd, ctr, image, pb):
    """The framing cases run on podshim and on runc-v2 (the reference)."""
    if request.param == "podshim":
        yield request.getfixturevalue("pod")
        return
    shim = _start_live(containerd, ctr, image, RUNC_V2, pb)
    yield shim
    _stop_live(ctr, shim)


def _expect(reply, code, contains=None):
    assert reply.code == code, "expected %s, got %r" % (tc.CODE_NAMES[code], reply)
    if contains is not None:
        assert contains in reply.message, reply


def _no_reply_for(conn, streams, wait=0.3):
    got = conn.poll(wait)
    stray = [r for r in got if r.stream in streams]
    assert not stray, "unexpected replies: %s" % stray
    return got


# ------------------------------------------------------------------ framing


def test_truncated_frames_then_close(live):
    for data in (tc.header(10, 1)[:5],  # half a header
                 tc.header(200, 1) + b"\x0a\x17",  # a header, then part of its body
                 tc.header(tc.MAX_MESSAGE + 4096, 1) + b"\0" * 1000,  # mid-discard
                 b"\x00"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        s.connect(live.socket)
        s.sendall(data)
        s.close()
    live.assert_serving()
    # a peer that stalls mid-frame does not hold up anyone else
    with live.client() as stalled:
        stalled.send_raw(tc.header(64, 1) + b"\x0a\x17containerd")
        live.assert_serving()
        stalled.send_raw(tc.header(2, 3)[:4])
        live.assert_serving()


def test_garbage_envelope(live):
    with live.client() as c:
        sid = c.next_stream()
        c.send_raw(tc.frame(sid, b"\xff" * 16))  # a varint that never ends
        _expect(c.recv(sid), INVALID_ARGUMENT)
        sid = c.next_stream()
        c.send_raw(tc.frame(sid, b"\x0a\x7f" + b"x" * 3))  # string runs past the end
        _expect(c.recv(sid), INVALID_ARGUMENT)
        live.assert_serving(c)


def test_garbage_payload_podshim(pod):
    """A good envelope around an undecodable State request. (Go ttrpc says
    INTERNAL here; podshim's contract, src/ttrpc/server.h, is INVALID_ARGUMENT.)"""
    with pod.client() as c:
        _expect(c.call("State", payload=b"\xff" * 16), INVALID_ARGUMENT)
        _expect(c.call("Kill", payload=b"\x0a\x7f\x00"), INVALID_ARGUMENT)
        pod.assert_serving(c)


def test_oversize_frame(live, pb):
    """A frame over 4 MiB is skipped and answered RESOURCE_EXHAUSTED; the
    request right behind it in the same write is served normally. A frame of
    exactly 4 MiB is within the limit (here: undecodable, all zero bytes)."""
    with live.client() as c:
        big, after = c.next_stream(), c.next_stream()
        state = c.request_bytes(c.service, "State",
                                pb.task.StateRequest(id=live.cid).SerializeToString())
        c.send_raw(tc.header(tc.MAX_MESSAGE + 1, big) + b"\0" * (tc.MAX_MESSAGE + 1)
                   + tc.frame(after, state))
        _expect(c.recv(big, timeout=20), RESOURCE_EXHAUSTED)
        r = c.recv(after)
        assert r.code == OK and r.decode(pb.task.StateResponse).pid == live.pid, r
        exact = c.next_stream()
        c.send_raw(tc.header(tc.MAX_MESSAGE, exact) + b"\0" * tc.MAX_MESSAGE)
        _expect(c.recv(exact, timeout=20), INVALID_ARGUMENT)
        live.assert_serving(c)


def test_even_stream_id(live, pb):
    with live.client() as c:
        for sid in (2, 0):
            c.send("State", pb.task.StateRequest(id=live.cid), stream=sid)
            _expect(c.recv(sid), INVALID_ARGUMENT)
        live.assert_serving(c)


def test_unknown_service_and_method(live, pb):
    with live.client() as c:
        r = c.call("State", pb.task.StateRequest(id=live.cid), service="containerd.task.v2.Nope")
        _expect(r, UNIMPLEMENTED)
        assert r.message.startswith("service containerd.task.v2.Nope"), r
        r = c.call("Frobnicate", pb.task.StateRequest(id=live.cid))
        _expect(r, UNIMPLEMENTED)
        assert r.message.startswith("method Frobnicate"), r
        r = c.call("", None, service="")
        _expect(r, UNIMPLEMENTED)
        live.assert_serving(c)


def test_task_v3_service_name(pod, pb):
    """containerd 2.x speaks containerd.task.v3.Task to a version-3 shim: the
    same service, messages and answers as v2 under the other name (podshim
    only: containerd 1.6's runc-v2 has no v3)."""
    with pod.client() as c:
        v2 = c.call("State", pb.task.StateRequest(id=pod.cid))
        v3 = c.call("State", pb.task.StateRequest(id=pod.cid), service="containerd.task.v3.Task")
        _expect(v3, tc.OK)
        assert (v3.decode(pb.task.StateResponse) == v2.decode(pb.task.StateResponse)), (v2, v3)
        r = c.call("State", pb.task.StateRequest(id="no-such-task"),
                   service="containerd.task.v3.Task")
        _expect(r, tc.NOT_FOUND)
        r = c.call("Connect", pb.task.ConnectRequest(id=pod.cid),
                   service="containerd.task.v3.Task")
        _expect(r, tc.OK)
        assert r.decode(pb.task.ConnectResponse).task_pid == pod.pid, r
        r = c.call("State", pb.task.StateRequest(id=pod.cid), service="containerd.task.v4.Task")
        _expect(r, UNIMPLEMENTED)
        pod.assert_serving(c)


def test_non_request_types_ignored(live, pb):
    with live.client() as c:
        body = c.request_bytes(c.service, "State",
                               pb.task.StateRequest(id=live.cid).SerializeToString())
        ignored = []
        for mtype in (2, 7, 0):
            sid = c.next_stream()
            ignored.append(sid)
            c.send_raw(tc.frame(sid, body, mtype=mtype))
        _no_reply_for(c, ignored)
        # flags are reserved and ignored by the receiver
        sid = c.next_stream()
        c.send_raw(tc.frame(sid, body, flags=0xff))
        assert c.recv(sid).code == OK
        live.assert_serving(c)
        _no_reply_for(c, ignored, wait=0.1)


def test_coalesced_and_split_requests(live, pb):
    with live.client() as c:
        req = pb.task.StateRequest(id=live.cid).SerializeToString()
        s1, s2 = c.next_stream(), c.next_stream()
        c.send_raw(tc.frame(s1, c.request_bytes(c.service, "State", req))
                   + tc.frame(s2, c.request_bytes(c.service, "State", req)))
        for sid in (s1, s2):
            r = c.recv(sid)
            assert r.code == OK and r.decode(pb.task.StateResponse).pid == live.pid, r
        s3 = c.next_stream()
        data = tc.frame(s3, c.request_bytes(c.service, "State", req))
        for i in range(len(data)):
            c.send_raw(data[i:i + 1])
            time.sleep(0.002)
        r = c.recv(s3)
        assert r.code == OK and r.decode(pb.task.StateResponse).pid == live.pid, r
        live.assert_serving(c)


def test_parked_wait_does_not_block(live, pb):
    """Wait on the running init parks; State calls behind it on the same
    connection are answered, the Wait is not."""
    with live.client() as c:
        wait_sid = c.send("Wait", pb.task.WaitRequest(id=live.cid))
        sids = [c.send("State", pb.task.StateRequest(id=live.cid)) for _ in range(20)]
        for sid in reversed(sids):
            r = c.recv(sid)
            assert r.code == OK and r.decode(pb.task.StateResponse).status == RUNNING, r
        _no_reply_for(c, [wait_sid], wait=0.2)
        live.assert_serving(c)


def test_wait_deadline(pod, pb):
    """A Wait sent with a 300 ms deadline (timeout_nano, as containerd sets it
    from its context) ends DEADLINE_EXCEEDED at the shim once that passes, so
    a client that gave up leaves nothing parked; the task is untouched and a
    Wait without a deadline still parks. (runc-v2's Wait ignores its context
    and stays parked, so this is podshim's own contract.)"""
    with pod.client() as c:
        t0 = time.monotonic()
        sid = c.send("Wait", pb.task.WaitRequest(id=pod.cid), timeout_nano=300_000_000)
        r = c.recv(sid, timeout=5)
        took = time.monotonic() - t0
        assert r.code == DEADLINE_EXCEEDED, r
        assert 0.25 <= took < 3, took
        plain = c.send("Wait", pb.task.WaitRequest(id=pod.cid))
        _no_reply_for(c, [plain], wait=0.5)
        r = c.call("State", pb.task.StateRequest(id=pod.cid))
        assert r.code == OK and r.decode(pb.task.StateResponse).status == RUNNING, r
        pod.assert_serving(c)


def test_wait_completes_out_of_order(pod, pb):
    """A Wait for an exec is answered after later calls, once the exec dies."""
    spec = json.dumps({"args": ["sleep", "600"], "cwd": "/", "env": ["PATH=/bin"]}).encode()
    with pod.client() as c:
        _expect(c.call("Exec", pb.task.ExecProcessRequest(
            id=pod.cid, exec_id="ooo", spec=tc.any_msg(pb, PROCESS_URL, spec))), OK)
        wait_sid = c.send("Wait", pb.task.WaitRequest(id=pod.cid, exec_id="ooo"))
        r = c.call("Start", pb.task.StartRequest(id=pod.cid, exec_id="ooo"))
        _expect(r, OK)
        epid = r.decode(pb.task.StartResponse).pid
        assert epid > 0
        sids = [c.send("State", pb.task.StateRequest(id=pod.cid, exec_id="ooo")) for _ in range(10)]
        for sid in sids:
            st = c.recv(sid).decode(pb.task.StateResponse)
            assert (st.status, st.pid) == (RUNNING, epid), st
        assert wait_sid not in c.pending()
        _expect(c.call("Kill", pb.task.KillRequest(id=pod.cid, exec_id="ooo", signal=9)), OK)
        r = c.recv(wait_sid)
        _expect(r, OK)
        assert r.decode(pb.task.WaitResponse).exit_status == 137, r
        r = c.call("Delete", pb.task.DeleteRequest(id=pod.cid, exec_id="ooo"))
        _expect(r, OK)
        assert r.decode(pb.task.DeleteResponse).exit_status == 137
        pod.assert_serving(c)


# ------------------------------------------------------------------ bad ids

BAD_IDS = {"empty": "", "dotdot-x": "../x", "slash": "a/b", "long": "x" * 300, "nul": "a\0b",
           "dotdot": "..", "dot": "."}


def _id_requests(t, cid, exec_id, sig=9):
    return (("State", t.StateRequest(id=cid, exec_id=exec_id)),
            ("Kill", t.KillRequest(id=cid, exec_id=exec_id, signal=sig)),
            ("Delete", t.DeleteRequest(id=cid, exec_id=exec_id)),
            ("Wait", t.WaitRequest(id=cid, exec_id=exec_id)))


def _check_rejected(pod, c, requests):
    wrong = []
    for method, msg in requests:
        try:
            r = c.call(method, msg, timeout=2)
        except AssertionError as e:  # no reply: parked on the wrong process?
            r = str(e)
        if getattr(r, "code", None) not in (NOT_FOUND, INVALID_ARGUMENT):
            wrong.append((method, msg.id, msg.exec_id, r))
    assert not wrong, "accepted or wrongly answered: %s" % wrong
    pod.assert_serving(c)


@pytest.mark.parametrize("bad", list(BAD_IDS.values()), ids=list(BAD_IDS))
def test_bad_ids(pod, pb, bad):
    with pod.client() as c:
        _check_rejected(pod, c, _id_requests(pb.task, bad, "", sig=9))
        # the same as an exec id of the live task (Delete is left out: the
        # empty exec id is the running init, which Delete refuses otherwise)
        reqs = _id_requests(pb.task, pod.cid, bad or "none", sig=9)
        _check_rejected(pod, c, [x for x in reqs if x[0] != "Delete" or bad])


def test_id_with_nul_is_not_its_prefix(live, pb):
    """protobuf strings may hold NUL; "<cid>\\0junk" is not the task <cid>.
    (Kill uses SIGCONT, harmless should the shim get it wrong; Delete is
    refused for the running task either way.)"""
    with live.client() as c:
        reqs = _id_requests(pb.task, live.cid + "\0junk", "", sig=18)
        _check_rejected(live, c, [x for x in reqs if x[0] != "Delete"])


def test_exec_id_with_nul(pod, pb):
    """Nor may an exec id with a NUL register under its prefix."""
    spec = json.dumps({"args": ["true"], "cwd": "/"}).encode()
    with pod.client() as c:
        try:
            r = c.call("Exec", _exec_req(pb, pod.cid, "nul\0x", spec))
            _expect(r, INVALID_ARGUMENT)
        finally:
            c.call("Delete", pb.task.DeleteRequest(id=pod.cid, exec_id="nul"))


def test_non_utf8_id(pod, pb):
    """An id that is not UTF-8 (Go refuses to send one). The reply must still
    decode: protobuf (Go and Python alike) rejects a whole Response whose
    status message is not valid UTF-8."""
    raw = b"\x0a\x02\xff\xfe"
    with pod.client() as c:
        wrong = []
        for method in ("State", "Wait", "Delete", "Kill"):
            r = c.call(method, payload=raw + (b"\x18\x09" if method == "Kill" else b""))
            if r.code not in (NOT_FOUND, INVALID_ARGUMENT):
                wrong.append((method, r))
        assert not wrong, wrong
        pod.assert_serving(c)


# ------------------------------------------------------------------- Create

CONFIG = {
    "ociVersion": "1.0.2",
    "process": {"args": ["true"], "cwd": "/", "env": ["PATH=/bin"]},
    "root": {"path": "rootfs"},
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]},
}


@pytest.fixture(scope="module")
def bundles(containerd):
    """make(name, config) -> bundle dir; config is a dict (written as JSON),
    bytes (written verbatim) or None (no config.json)."""
    base = os.path.join(containerd.dir, "badin-bundles")
    os.makedirs(base, exist_ok=True)
    layer = []

    def make(name, config=CONFIG, rootfs=True):
        d = os.path.join(base, name)
        os.makedirs(d)
        if rootfs:
            os.makedirs(os.path.join(d, "rootfs"))
            if not layer:
                layer.append(ociimage.build_layer())
            with tarfile.open(fileobj=io.BytesIO(layer[0])) as tar:
                tar.extractall(os.path.join(d, "rootfs"))
        if config is not None:
            data = config if isinstance(config, bytes) else json.dumps(config).encode()
            with open(os.path.join(d, "config.json"), "wb") as f:
                f.write(data)
        return d

    return make


def _create(c, pb, cid, bundle, options=None):
    req = pb.task.CreateTaskRequest(id=cid, bundle=bundle)
    if options is not None:
        req.options.CopyFrom(options)
    return c.call("Create", req, timeout=15)


def test_create_bad_id_and_bundle(pod, pb, bundles):
    ok = bundles("good")
    with pod.client() as c:
        _expect(_create(c, pb, "../x", ok), INVALID_ARGUMENT)
        _expect(_create(c, pb, "a/b", ok), INVALID_ARGUMENT)
        _expect(_create(c, pb, "", ok), INVALID_ARGUMENT)
        missing = ok + "-does-not-exist"
        r = _create(c, pb, "nobundle", missing)
        _expect(r, NOT_FOUND, contains=missing)
        _expect(_create(c, pb, "relbundle", "good"), INVALID_ARGUMENT)
        _expect(_create(c, pb, "relbundle", "./" + os.path.basename(ok)), INVALID_ARGUMENT)
        dotdot = os.path.join(os.path.dirname(ok), "..", os.path.basename(os.path.dirname(ok)),
                              "good")
        _expect(_create(c, pb, "dotdot", dotdot), INVALID_ARGUMENT)
        # a trailing ".." component names the parent of a real bundle
        _expect(_create(c, pb, "dotdot", os.path.join(ok, "rootfs", "..")), INVALID_ARGUMENT)
        for cid in ("nobundle", "relbundle", "dotdot"):
            _expect(c.state(cid), NOT_FOUND)
        pod.assert_serving(c)


def test_create_bad_config(pod, pb, bundles):
    before = pod.fds()
    with pod.client() as c:
        r = _create(c, pb, "notjson", bundles("notjson", b"{this is not json"))
        _expect(r, INVALID_ARGUMENT, contains="config.json")
        noproc = dict(CONFIG)
        del noproc["process"]
        r = _create(c, pb, "noproc", bundles("noproc", noproc))
        _expect(r, INVALID_ARGUMENT, contains="process")
        r = _create(c, pb, "noconfig", bundles("noconfig", None))
        assert r.code in (NOT_FOUND, INVALID_ARGUMENT), r
        assert "config.json" in r.message, r
        r = _create(c, pb, "array", bundles("array", b"[1, 2, 3]"))
        _expect(r, INVALID_ARGUMENT, contains="config.json")
        for cid in ("notjson", "noproc", "noconfig", "array"):
            _expect(c.state(cid), NOT_FOUND)
        pod.assert_serving(c)
    pod.wait_fds_back(before)


def test_create_bad_options(pod, pb, bundles):
    b = bundles("badopts")
    with pod.client() as c:
        r = _create(c, pb, "badopts", b, tc.any_msg(pb, "example.com/not.a.Type", b"\x08\x01"))
        _expect(r, INVALID_ARGUMENT)
        r = _create(c, pb, "badopts", b, tc.any_msg(pb, "containerd.runc.v1.Options", b"\xff" * 8))
        _expect(r, INVALID_ARGUMENT)
        # nothing podshim would not apply is ignored: a field of runc's
        # options this build does not know (15, varint), a key of the
        # inline table (containerd 1.7+ with no ConfigPath), a value
        # without a type
        known = pb.runc.Options(binary_name="runc").SerializeToString()
        r = _create(c, pb, "badopts", b,
                    tc.any_msg(pb, "containerd.runc.v1.Options", known + b"\x78\x01"))
        _expect(r, INVALID_ARGUMENT, contains="field 15")
        body = _runtimeoptions(pb, config_body=b"BinaryName = 'runc'\nBinaryNmae = 'crun'\n")
        r = _create(c, pb, "badopts", b, body)
        _expect(r, INVALID_ARGUMENT, contains="BinaryNmae")
        r = _create(c, pb, "badopts", b, tc.any_msg(pb, "", b"\x08\x01"))
        _expect(r, INVALID_ARGUMENT, contains="type URL")
        _expect(c.state("badopts"), NOT_FOUND)
        pod.assert_serving(c)


def _runtimeoptions(pb, **fields):
    ro = importlib.import_module("runtimeoptions.options_pb2")
    return tc.any_msg(pb, "runtimeoptions.v1.Options", ro.Options(**fields).SerializeToString())


def test_create_options_reach_the_runtime(pod, pb, bundles):
    """Each options form podshim takes is applied, shown by the runtime it
    then tries to run (one that does not exist: NOT_FOUND naming it):
    containerd 2.x's runc options with the pod's task API endpoint (what it
    sends for user-namespace pods and the shim sandboxer), and the
    handler's options table inline (1.7+ without ConfigPath)."""
    b = bundles("optsapplied")
    missing = "/nonexistent/podshim-badinput/opts-runc"
    forms = {
        "runc.v1+task_api": tc.any_msg(pb, "containerd.runc.v1.Options", pb.runc.Options(
            binary_name=missing, task_api_address="unix:///run/containerd/s/x",
            task_api_version=3).SerializeToString()),
        "config_body": _runtimeoptions(pb, config_body=("BinaryName = '%s'\n"
                                                        % missing).encode()),
    }
    with pod.client() as c:
        for name, opts in forms.items():
            r = _create(c, pb, "optsapplied", b, opts)
            assert r.code == NOT_FOUND and missing in r.message, (name, r)
            _expect(c.state("optsapplied"), NOT_FOUND)
        pod.assert_serving(c)


def test_create_missing_runtime_binary(pod, pb, bundles):
    b = bundles("nobin")
    missing = "/nonexistent/podshim-badinput/runc"
    opts = tc.any_msg(pb, "containerd.runc.v1.Options",
                      pb.runc.Options(binary_name=missing).SerializeToString())
    before = pod.fds()
    with pod.client() as c:
        for _ in range(3):  # a failed Create leaves nothing registered ...
            r = _create(c, pb, "nobin", b, opts)
            _expect(r, NOT_FOUND, contains=missing)  # ENOENT of the exec
            _expect(c.state("nobin"), NOT_FOUND)
        pod.assert_serving(c)
    # ... and no descriptors (stdio, pipes, pidfds; this connection) behind
    pod.wait_fds_back(before)


# ---------------------------------------------------- exec and state rules


def _exec_req(pb, cid, exec_id, spec_bytes):
    return pb.task.ExecProcessRequest(id=cid, exec_id=exec_id,
                                      spec=tc.any_msg(pb, PROCESS_URL, spec_bytes))


def test_exec_errors(pod, pb):
    good = json.dumps({"args": ["true"], "cwd": "/", "env": ["PATH=/bin"]}).encode()
    t = pb.task
    before = pod.fds()
    with pod.client() as c:
        _expect(c.call("Exec", _exec_req(pb, pod.cid, "dup", good)), OK)
        _expect(c.call("Exec", _exec_req(pb, pod.cid, "dup", good)), ALREADY_EXISTS)
        _expect(c.call("Delete", t.DeleteRequest(id=pod.cid, exec_id="dup")), OK)
        _expect(c.state(pod.cid, "dup"), NOT_FOUND)

        for n, spec in enumerate((b"{not json", b"", b"[]", b'"args"',
                                  json.dumps({"cwd": "/"}).encode(),
                                  json.dumps({"args": [], "cwd": "/"}).encode(),
                                  json.dumps({"args": [1, 2], "cwd": "/"}).encode())):
            eid = "bad%d" % n
            _expect(c.call("Exec", _exec_req(pb, pod.cid, eid, spec)), INVALID_ARGUMENT)
            _expect(c.state(pod.cid, eid), NOT_FOUND)
        _expect(c.call("Exec", t.ExecProcessRequest(id=pod.cid, exec_id="nospec")),
                INVALID_ARGUMENT)
        for bad in ("../x", "a/b", "x" * 300, ""):
            _expect(c.call("Exec", _exec_req(pb, pod.cid, bad, good)), INVALID_ARGUMENT)
        _expect(c.call("Exec", _exec_req(pb, "no-such-task", "e1", good)), NOT_FOUND)
        pod.assert_serving(c)
    pod.wait_fds_back(before)


def test_illegal_transitions(pod, pb):
    t = pb.task
    with pod.client() as c:
        _expect(c.call("Kill", t.KillRequest(id=pod.cid, exec_id="nope", signal=9)), NOT_FOUND)
        _expect(c.call("Start", t.StartRequest(id=pod.cid, exec_id="nope")), NOT_FOUND)
        _expect(c.call("Delete", t.DeleteRequest(id=pod.cid, exec_id="nope")), NOT_FOUND)
        _expect(c.call("Start", t.StartRequest(id=pod.cid)), FAILED_PRECONDITION)
        _expect(c.call("Delete", t.DeleteRequest(id=pod.cid)), FAILED_PRECONDITION)
        for sig in (0, 65, 1000, 0xFFFFFFFF):
            _expect(c.call("Kill", t.KillRequest(id=pod.cid, signal=sig)), INVALID_ARGUMENT)
            _expect(c.call("Kill", t.KillRequest(id=pod.cid, signal=sig, all=True)),
                    INVALID_ARGUMENT)
        for res in (tc.any_msg(pb, RESOURCES_URL, b"{not json"),
                    tc.any_msg(pb, RESOURCES_URL, b"[1]"),
                    tc.any_msg(pb, RESOURCES_URL, b"")):
            _expect(c.call("Update", t.UpdateTaskRequest(id=pod.cid, resources=res)),
                    INVALID_ARGUMENT)
        pod.assert_serving(c)


# ------------------------------------------------------------ connections


def test_hangup_with_parked_wait_no_fd_leak(pod, pb):
    wait = pb.task.WaitRequest(id=pod.cid)
    state = pb.task.StateRequest(id=pod.cid)

    def cycle():
        with pod.client() as c:
            c.send("Wait", wait)
            # State is read after Wait on the same connection, so once its
            # reply is here the Wait has been parked
            assert c.recv(c.send("State", state)).code == OK

    cycle()
    time.sleep(0.2)  # let the shim see the hang-up of the warm-up cycle
    before_map = pod.fds()
    before = len(before_map)
    # positive control: open connections with parked Waits do show up
    held = [pod.client() for _ in range(5)]
    for c in held:
        c.send("Wait", wait)
        assert c.recv(c.send("State", state)).code == OK
    assert pod.fd_count() >= before + 5, (before, pod.fd_count())
    for c in held:
        c.close()
    for _ in range(200):
        cycle()
    pod.assert_serving()
    pod.wait_fds_back(before_map)


def test_shutdown_while_task_remains(pod, pb):
    """Runs last: a shim that wrongly exits here takes the task with it."""
    with pod.client() as c:
        _expect(c.call("Shutdown", pb.task.ShutdownRequest(id=pod.cid)), OK)
        _expect(c.call("Shutdown", pb.task.ShutdownRequest(id="someone-else", now=True)), OK)
        time.sleep(0.5)
        assert pod.alive(), "shim exited on Shutdown with a live task"
        assert os.path.exists(pod.socket)
        pod.assert_serving(c)
