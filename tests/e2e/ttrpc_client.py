"""A minimal ttrpc v1.1 client for poking a live shim socket from the tests.

Framing (docs/shim-protocol.md §3.1): a 10-byte big-endian header
{length u32, stream id u32, type u8, flags u8} then `length` bytes of
protobuf. Requests are type 1 on odd stream ids, replies type 2 on the same
id; the envelope messages (ttrpc.Request / ttrpc.Response) and the Task API
messages come from our own protos, compiled with protoc at test time.

Unlike a real client this one can also send any bytes at all (bad headers,
garbage payloads, even stream ids, split or coalesced writes), and it keeps
replies that arrive for other stream ids so that out-of-order completion can
be checked.
"""

import atexit
import importlib
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

HEADER = struct.Struct(">IIBB")
HEADER_SIZE = HEADER.size  # 10
TYPE_REQUEST = 1
TYPE_RESPONSE = 2
MAX_MESSAGE = 4 << 20

TASK_SERVICE = "containerd.task.v2.Task"
SANDBOX_SERVICE = "containerd.runtime.sandbox.v1.Sandbox"

# gRPC status codes (google.rpc.Code)
OK = 0
UNKNOWN = 2
INVALID_ARGUMENT = 3
DEADLINE_EXCEEDED = 4
NOT_FOUND = 5
ALREADY_EXISTS = 6
RESOURCE_EXHAUSTED = 8
FAILED_PRECONDITION = 9
UNIMPLEMENTED = 12

CODE_NAMES = {0: "OK", 1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT",
              4: "DEADLINE_EXCEEDED", 5: "NOT_FOUND", 6: "ALREADY_EXISTS",
              7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION",
              10: "ABORTED", 11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED", 13: "INTERNAL",
              14: "UNAVAILABLE"}

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROTO_DIR = os.path.join(REPO, "proto")

_protos = None


class Protos:
    """The generated *_pb2 modules we need, as attributes."""

    def __init__(self, outdir):
        if outdir not in sys.path:
            sys.path.insert(0, outdir)
        self.dir = outdir
        self.ttrpc = importlib.import_module("ttrpc.ttrpc_pb2")
        self.status = importlib.import_module("google.rpc.status_pb2")
        self.task = importlib.import_module("containerd.task.v2.task_pb2")
        self.types = importlib.import_module("containerd.types.task_pb2")
        self.runc = importlib.import_module("containerd.runc.options_pb2")
        self.any = importlib.import_module("google.protobuf.any_pb2")
        self.sandbox = importlib.import_module("containerd.runtime.sandbox.v1.sandbox_pb2")
        self.sandbox_events = importlib.import_module("containerd.events.sandbox_pb2")


def load_protos(outdir=None):
    """Compiles every proto under proto/ into Python once per process and
    imports the modules (protoc with --python_out; the well-known types come
    from /usr/include and from python3-protobuf itself)."""
    global _protos
    if _protos is not None:
        return _protos
    if outdir is None:
        outdir = tempfile.mkdtemp(prefix="ps-pb2-")
        atexit.register(shutil.rmtree, outdir, True)
    files = []
    for root, _, names in os.walk(PROTO_DIR):
        files += [os.path.relpath(os.path.join(root, n), PROTO_DIR)
                  for n in names if n.endswith(".proto")]
    # CRI's runtime.v1 comes from the CRI client's own stubs
    # (cri/proto/cri_api.proto): one process cannot hold the package twice
    files = [f for f in files if not f.startswith("cri" + os.sep)]
    p = subprocess.run(["protoc", "--python_out=" + outdir, "-I", PROTO_DIR,
                        "-I", "/usr/include"] + sorted(files),
                       capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("protoc failed: %s" % p.stderr.decode(errors="replace"))
    _protos = Protos(outdir)
    return _protos


def header(length, stream, mtype=TYPE_REQUEST, flags=0):
    return HEADER.pack(length, stream, mtype, flags)


def frame(stream, payload, mtype=TYPE_REQUEST, flags=0):
    return header(len(payload), stream, mtype, flags) + payload


class Reply:
    """A decoded Response frame: code (0 = OK), message, payload bytes."""

    def __init__(self, stream, mtype, flags, body, protos):
        self.stream = stream
        self.type = mtype
        self.flags = flags
        self.body = body
        resp = protos.ttrpc.Response()
        try:
            resp.ParseFromString(body)
        except Exception as e:  # noqa: BLE001 (DecodeError; Go clients fail the same way)
            self.code = None
            self.message = "undecodable Response (%s): %r" % (e, body[:200])
            self.payload = b""
            return
        self.code = resp.status.code if resp.HasField("status") else OK
        self.message = resp.status.message if resp.HasField("status") else ""
        self.payload = resp.payload

    def decode(self, msg_type):
        m = msg_type()
        m.ParseFromString(self.payload)
        return m

    def __repr__(self):
        return "Reply(stream=%d code=%s message=%r payload=%d bytes)" % (
            self.stream, CODE_NAMES.get(self.code, self.code), self.message[:300],
            len(self.payload))


class ConnectionClosed(AssertionError):
    pass


class Client:
    """One connection to a ttrpc server. Not thread-safe; replies are read
    on demand and buffered per stream id."""

    def __init__(self, path, protos=None, timeout=10, service=TASK_SERVICE):
        self.protos = protos or load_protos()
        self.path = path
        # the task service requests go to by default: v2, or v3 for a shim
        # that bootstrapped as version 3 (harness.ShimEndpoint)
        self.service = service
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self._next = 1
        self._inbuf = b""
        self._replies = {}  # stream id -> [Reply] not yet claimed
        self.closed_by_peer = False

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------ sending

    def next_stream(self):
        sid = self._next
        self._next += 2
        return sid

    def send_raw(self, data):
        self.sock.sendall(data)

    def request_bytes(self, service, method, payload=b"", timeout_nano=0, metadata=None):
        req = self.protos.ttrpc.Request(service=service, method=method, payload=payload,
                                        timeout_nano=timeout_nano)
        for k, v in (metadata or {}).items():
            req.metadata.add(key=k, value=v)
        return req.SerializeToString()

    def send(self, method, msg=None, service=None, stream=None, payload=None,
             timeout_nano=0):
        """Sends a request (msg is a protobuf message, or payload raw bytes)
        with the client deadline `timeout_nano` (0: none); returns its stream
        id."""
        sid = self.next_stream() if stream is None else stream
        service = self.service if service is None else service
        if payload is None:
            payload = msg.SerializeToString() if msg is not None else b""
        self.send_raw(frame(sid, self.request_bytes(service, method, payload, timeout_nano)))
        return sid

    # ----------------------------------------------------------- receiving

    def _read_some(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            return False
        data = self.sock.recv(1 << 20)
        if not data:
            self.closed_by_peer = True
            raise ConnectionClosed("server closed the connection")
        self._inbuf += data
        return True

    def _parse(self):
        while len(self._inbuf) >= HEADER_SIZE:
            length, sid, mtype, flags = HEADER.unpack_from(self._inbuf)
            if len(self._inbuf) < HEADER_SIZE + length:
                return
            body = self._inbuf[HEADER_SIZE:HEADER_SIZE + length]
            self._inbuf = self._inbuf[HEADER_SIZE + length:]
            self._replies.setdefault(sid, []).append(
                Reply(sid, mtype, flags, body, self.protos))

    def recv(self, stream, timeout=None):
        """The reply for stream id `stream`; raises AssertionError when none
        arrives in time or the server hangs up."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            self._parse()
            if self._replies.get(stream):
                return self._replies[stream].pop(0)
            if not self._read_some(deadline):
                raise AssertionError("no reply on stream %d within %ss (other replies: %s)"
                                     % (stream, self.timeout if timeout is None else timeout,
                                        self.pending()))

    def poll(self, timeout):
        """Reads whatever arrives within `timeout`; returns every buffered
        reply (all streams) and clears them."""
        deadline = time.monotonic() + timeout
        while self._read_some(deadline):
            pass
        self._parse()
        out = [r for rs in self._replies.values() for r in rs]
        self._replies.clear()
        return out

    def pending(self):
        return {sid: rs for sid, rs in self._replies.items() if rs}

    def call(self, method, msg=None, service=None, timeout=None, payload=None):
        return self.recv(self.send(method, msg, service=service, payload=payload), timeout)

    # ------------------------------------------------------ Task shortcuts

    def state(self, cid, exec_id=""):
        return self.call("State", self.protos.task.StateRequest(id=cid, exec_id=exec_id))


def any_msg(protos, type_url, value):
    return protos.any.Any(type_url=type_url, value=value)
