#!/usr/bin/python3
"""Wire-compatibility check of podshim's .proto files against the upstream
definitions containerd decodes with.

Usage: check_wire_compat.py <our proto dir>

Both sides are compiled by protoc into FileDescriptorSets. For every message
we declare, the upstream message of the same full name must exist, and each of
our fields must match an upstream field in number, type, label and (for
message and enum fields) type name. Our enums must use upstream value
numbers, our services upstream method signatures. Messages of the cgroups
metrics packages must also declare every upstream field: containerd drops
nothing we fill, so we must be able to fill everything.

ttrpc's envelope has no .proto upstream (ttrpc v1.1 declares Go structs), so
package "ttrpc" is checked against the protobuf struct tags in ttrpc/types.go.

Needs: protobuf-compiler, python3-protobuf, golang-github-containerd-containerd-dev
(1.6) and 2.1's golang-github-containerd-containerd-api-dev (fetch-containerd.sh),
golang-github-containerd-cgroups-dev, golang-github-gogo-protobuf-dev,
golang-github-gogo-googleapis-dev, golang-github-containerd-ttrpc-dev.
Exits 0 when everything matches, 1 on any mismatch, 2 on setup errors.
"""

import os
import re
import subprocess
import sys
import tempfile

from google.protobuf import descriptor_pb2

GOSRC = "/usr/share/gocode/src"
CONTAINERD = GOSRC + "/github.com/containerd/containerd"
CGROUPS = GOSRC + "/github.com/containerd/cgroups"
GOGO = GOSRC + "/github.com/gogo/protobuf"
GOOGLEAPIS = GOSRC + "/github.com/gogo/googleapis"
TTRPC_TYPES = GOSRC + "/github.com/containerd/ttrpc/types.go"
WKT = "/usr/include"

# Upstream files; each is compiled on its own because they reach gogo.proto
# under two different import names.
UPSTREAM = [
    CONTAINERD + "/runtime/v2/task/shim.proto",
    CONTAINERD + "/api/types/mount.proto",
    CONTAINERD + "/api/types/task/task.proto",
    CONTAINERD + "/api/events/task.proto",
    CONTAINERD + "/api/services/ttrpc/events/v1/events.proto",
    CONTAINERD + "/runtime/v2/runc/options/oci.proto",
    CONTAINERD + "/runtime/linux/runctypes/runc.proto",
    CONTAINERD + "/pkg/runtimeoptions/v1/api.proto",
    CGROUPS + "/stats/v1/metrics.proto",
    CGROUPS + "/v2/stats/metrics.proto",
    GOOGLEAPIS + "/google/rpc/status.proto",
]
UPSTREAM_INCLUDES = [GOSRC, GOGO, GOOGLEAPIS, WKT]
# containerd 2.x's API module (scripts/fetch-containerd.sh
# containerd-api-src-2.1.9): RuntimeInfo (-info), and the options messages
# as 2.1 sends them (runc's task_api_*, runtimeoptions' config_body). A
# message both versions define is checked against the union of their fields.
API2_GOSRC = os.environ.get("PODSHIM_CACHE", "/var/cache/podshim") + \
    "/containerd-api-src-2.1.9/usr/share/gocode/src"
API2 = API2_GOSRC + "/github.com/containerd/containerd/api"
UPSTREAM_V2 = [
    API2 + "/types/introspection.proto",
    API2 + "/types/runc/options/oci.proto",
    API2 + "/types/runtimeoptions/v1/api.proto",
    # the shim sandboxer: the Sandbox service, its events and types
    API2 + "/runtime/sandbox/v1/sandbox.proto",
    API2 + "/events/sandbox.proto",
    API2 + "/types/platform.proto",
    API2 + "/types/metrics.proto",
]
# Kubernetes' CRI, whose PodSandboxConfig containerd 2.x hands a shim
# sandboxer: no runtime.v1 .proto ships in Debian, but containerd 2.1.9's
# source keeps CRI's runtime.v1alpha2, of which runtime.v1 is a renamed copy
# (same messages, same field numbers; v1 only added fields). It is checked
# under the new package name. (path, upstream package, our package)
SRC2_GOSRC = os.environ.get("PODSHIM_CACHE", "/var/cache/podshim") + \
    "/containerd-src-2.1.9/usr/share/gocode/src"
CRI_V1ALPHA2 = SRC2_GOSRC + "/github.com/containerd/containerd/third_party/k8s.io/cri-api/" \
    "pkg/apis/runtime/v1alpha2/api.proto"
UPSTREAM_RENAMED = [(CRI_V1ALPHA2, "runtime.v1alpha2", "runtime.v1")]

# Packages whose messages must carry every upstream field.
COMPLETE_PACKAGES = ("io.containerd.cgroups.v1", "io.containerd.cgroups.v2")

FDP = descriptor_pb2.FieldDescriptorProto
# Our own protocols (the vm backend's guest agent): nothing upstream to match.
OWN_PACKAGES = (".podshim.",)

TYPE_NAMES = {v: k[len("TYPE_"):].lower() for k, v in FDP.Type.items()}
LABEL_NAMES = {v: k[len("LABEL_"):].lower() for k, v in FDP.Label.items()}


def rename_package(fds, old, new):
    """Moves every file of package `old` to `new`, type references too."""
    def fix_message(m):
        for f in m.field:
            if f.type_name.startswith("." + old + "."):
                f.type_name = "." + new + f.type_name[len(old) + 1:]
        for n in m.nested_type:
            fix_message(n)

    for fd in fds.file:
        if fd.package == old:
            fd.package = new
        for m in fd.message_type:
            fix_message(m)
        for svc in fd.service:
            for meth in svc.method:
                for attr in ("input_type", "output_type"):
                    v = getattr(meth, attr)
                    if v.startswith("." + old + "."):
                        setattr(meth, attr, "." + new + v[len(old) + 1:])
    return fds


def protoc(files, includes, out):
    cmd = ["protoc", "--include_imports", "--descriptor_set_out=" + out]
    cmd += ["-I" + i for i in includes] + files
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.stderr.write("protoc failed: %s\n%s" % (" ".join(cmd), res.stderr))
        sys.exit(2)
    fds = descriptor_pb2.FileDescriptorSet()
    with open(out, "rb") as f:
        fds.ParseFromString(f.read())
    return fds


class Index:
    """Messages, enums and services of a set of files by full name."""

    def __init__(self):
        self.messages, self.enums, self.services = {}, {}, {}
        self.origin = {}

    def add_fds(self, fds, only_files=None):
        for fd in fds.file:
            if only_files is not None and fd.name not in only_files:
                continue
            prefix = "." + fd.package if fd.package else ""
            for m in fd.message_type:
                self._add_message(prefix, m, fd.name)
            for e in fd.enum_type:
                self.enums[prefix + "." + e.name] = e
                self.origin[prefix + "." + e.name] = fd.name
            for s in fd.service:
                self.services[prefix + "." + s.name] = s
                self.origin[prefix + "." + s.name] = fd.name

    def _add_message(self, prefix, m, fname):
        full = prefix + "." + m.name
        if full in self.messages:  # another containerd version's: the union
            have = {f.number for f in self.messages[full].field}
            for f in m.field:
                if f.number not in have:
                    self.messages[full].field.add().CopyFrom(f)
            self.origin[full] += " + " + fname
        else:
            self.messages[full] = descriptor_pb2.DescriptorProto()
            self.messages[full].CopyFrom(m)
            self.origin[full] = fname
        for n in m.nested_type:
            self._add_message(full, n, fname)
        for e in m.enum_type:
            self.enums[full + "." + e.name] = e
            self.origin[full + "." + e.name] = fname


# Go field types of ttrpc/types.go -> (proto type, type name).
GO_TYPES = {
    "string": (FDP.TYPE_STRING, ""),
    "[]string": (FDP.TYPE_STRING, ""),
    "[]byte": (FDP.TYPE_BYTES, ""),
    "int64": (FDP.TYPE_INT64, ""),
    "uint64": (FDP.TYPE_UINT64, ""),
    "int32": (FDP.TYPE_INT32, ""),
    "uint32": (FDP.TYPE_UINT32, ""),
    "bool": (FDP.TYPE_BOOL, ""),
    "*spb.Status": (FDP.TYPE_MESSAGE, ".google.rpc.Status"),
}
GO_TAG = re.compile(r'^\s*(\w+)\s+(\S+)\s+`protobuf:"(\w+),(\d+),(opt|rep|req),name=(\w+)')


def ttrpc_upstream(index):
    """Adds the ttrpc envelope messages, built from Go struct tags."""
    try:
        src = open(TTRPC_TYPES).read()
    except OSError as e:
        sys.stderr.write("cannot read %s: %s\n" % (TTRPC_TYPES, e))
        sys.exit(2)
    for m in re.finditer(r"type (\w+) struct \{(.*?)\n\}", src, re.S):
        msg = descriptor_pb2.DescriptorProto(name=m.group(1))
        for line in m.group(2).splitlines():
            t = GO_TAG.match(line)
            if not t:
                continue
            gotype = t.group(2)
            if gotype in GO_TYPES:
                ptype, tname = GO_TYPES[gotype]
            elif re.match(r"^(\[\])?\*\w+$", gotype):  # a message of this package
                ptype, tname = FDP.TYPE_MESSAGE, ".ttrpc." + gotype.lstrip("[]*")
            else:
                sys.stderr.write("ttrpc: unknown Go type %s\n" % gotype)
                sys.exit(2)
            label = FDP.LABEL_REPEATED if t.group(5) == "rep" else FDP.LABEL_OPTIONAL
            msg.field.add(name=t.group(6), number=int(t.group(4)), type=ptype,
                          type_name=tname, label=label)
        index.messages[".ttrpc." + msg.name] = msg
        index.origin[".ttrpc." + msg.name] = TTRPC_TYPES


def describe(f):
    s = "%s %s = %d" % (LABEL_NAMES[f.label], TYPE_NAMES[f.type], f.number)
    return s + (" (%s)" % f.type_name if f.type_name else "")


def check_message(name, ours, theirs, errors):
    by_number = {f.number: f for f in theirs.field}
    for f in ours.field:
        up = by_number.get(f.number)
        where = "%s.%s" % (name, f.name)
        if up is None:
            errors.append("%s: field number %d does not exist upstream" % (where, f.number))
            continue
        if (f.type, f.label, f.type_name) != (up.type, up.label, up.type_name):
            errors.append("%s: ours is %s, upstream %s is %s" %
                          (where, describe(f), up.name, describe(up)))
        elif f.name != up.name:
            print("note: %s is named %s upstream (wire-compatible)" % (where, up.name))
    ours_numbers = {f.number for f in ours.field}
    missing = [f for f in theirs.field if f.number not in ours_numbers]
    if missing and name.lstrip(".").startswith(COMPLETE_PACKAGES):
        for f in missing:
            errors.append("%s: upstream field %s (%d) is missing" % (name, f.name, f.number))
    elif missing:
        print("note: %s leaves out upstream fields %s" %
              (name, ", ".join("%s=%d" % (f.name, f.number) for f in missing)))


def check_enum(name, ours, theirs, errors):
    numbers = {v.number: v.name for v in theirs.value}
    for v in ours.value:
        if v.number not in numbers:
            errors.append("%s.%s: value %d does not exist upstream" % (name, v.name, v.number))


def check_service(name, ours, theirs, errors):
    methods = {m.name: m for m in theirs.method}
    for m in ours.method:
        up = methods.get(m.name)
        if up is None:
            errors.append("%s.%s: no such upstream method" % (name, m.name))
        elif (m.input_type, m.output_type) != (up.input_type, up.output_type):
            errors.append("%s.%s: ours %s -> %s, upstream %s -> %s" %
                          (name, m.name, m.input_type, m.output_type,
                           up.input_type, up.output_type))


def main():
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    ourdir = os.path.abspath(sys.argv[1])
    ourfiles = sorted(os.path.relpath(os.path.join(d, f), ourdir)
                      for d, _, fs in os.walk(ourdir) for f in fs if f.endswith(".proto"))
    if not ourfiles:
        sys.stderr.write("no .proto files under %s\n" % ourdir)
        return 2
    ours, theirs = Index(), Index()
    with tempfile.TemporaryDirectory() as tmp:
        fds = protoc(ourfiles, [ourdir, WKT], os.path.join(tmp, "ours.pb"))
        ours.add_fds(fds, only_files=set(ourfiles))
        for i, path in enumerate(UPSTREAM):
            if not os.path.exists(path):
                sys.stderr.write("missing upstream file %s (install its -dev package)\n" % path)
                return 2
            theirs.add_fds(protoc([path], UPSTREAM_INCLUDES, os.path.join(tmp, "%d.pb" % i)))
        for i, path in enumerate(UPSTREAM_V2):
            if not os.path.exists(path):
                sys.stderr.write("missing upstream file %s (scripts/fetch-containerd.sh "
                                 "containerd-api-src-2.1.9)\n" % path)
                return 2
            theirs.add_fds(protoc([path], [API2_GOSRC, WKT], os.path.join(tmp, "v2-%d.pb" % i)),
                           only_files={os.path.relpath(path, API2_GOSRC)})
        for i, (path, old, new) in enumerate(UPSTREAM_RENAMED):
            if not os.path.exists(path):
                sys.stderr.write("missing upstream file %s (scripts/fetch-containerd.sh "
                                 "containerd-src-2.1.9)\n" % path)
                return 2
            d = os.path.dirname(path)
            fds = protoc([path], [d, WKT], os.path.join(tmp, "renamed-%d.pb" % i))
            theirs.add_fds(rename_package(fds, old, new),
                           only_files={os.path.relpath(path, d)})
    ttrpc_upstream(theirs)

    errors, nfields = [], 0
    for kind, table, up_table, check in (
            ("message", ours.messages, theirs.messages, check_message),
            ("enum", ours.enums, theirs.enums, check_enum),
            ("service", ours.services, theirs.services, check_service)):
        for name in sorted(table):
            if name.startswith(OWN_PACKAGES):
                continue
            if name not in up_table:
                errors.append("%s %s (%s): no upstream %s of that name" %
                              (kind, name, ours.origin[name], kind))
                continue
            check(name, table[name], up_table[name], errors)
            if kind == "message":
                nfields += len(table[name].field)

    for e in errors:
        print("MISMATCH: " + e)
    print("checked %d files: %d messages (%d fields), %d enums, %d services; %d mismatches" %
          (len(ourfiles), len(ours.messages), nfields, len(ours.enums), len(ours.services),
           len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
