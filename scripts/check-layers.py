#!/usr/bin/python3
"""Fails when a module of src/ includes a header of a layer it may not use.

The layers, lowest first (README "Layout"); every include edge points down:

    base <- ttrpc <- core
    base, ttrpc, core, oci, cgroup, net <- agent  (the guest agent's protocol, both
                             ends: podshim-agent's service, which reaps and runs the
                             OCI runtime in the guest, reads its cgroups and sets up
                             its network, and the host side's typed client)
    base <- cgroup, net, oci
    cgroup, net <- task     (for the plain metrics types only: the task core
                             reaches the rest through task/backend.h)
    core, cgroup, net, oci, infra, task, agent <- sandbox <- api <- shim

Generated protobuf headers (containerd/, google/, cgroups/, runtimeoptions/, cri/,
and podshim/ for our own agent protocol)
are wire formats: only the layers that speak the wire may include them.
Usage: check-layers.py [SRC_DIR]; prints every offending include and exits 1.
"""

import os
import re
import sys

ALLOWED = {
    "base": set(),
    "ttrpc": {"base"},
    "core": {"base", "ttrpc"},
    "cgroup": {"base"},
    "net": {"base"},
    "oci": {"base"},
    "infra": set(),
    "agent": {"base", "ttrpc", "core", "oci", "cgroup", "net"},
    "task": {"base", "cgroup", "net"},
    "sandbox": {"base", "core", "cgroup", "net", "oci", "infra", "task", "agent"},
    "api": {"base", "ttrpc", "core", "oci", "task", "sandbox"},
    "shim": {"base", "ttrpc", "core", "cgroup", "net", "oci", "task", "sandbox", "api", "agent"},
}
WIRE = {"containerd", "google", "cgroups", "runtimeoptions", "cri", "podshim"}
# the generated ttrpc envelope lives under the same name as our ttrpc/ layer
WIRE_SPEAKERS = {"ttrpc", "core", "agent", "api", "shim"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_0-9]+)/[^"]+"', re.M)


def check(src):
    bad = []
    for layer in sorted(os.listdir(src)):
        root = os.path.join(src, layer)
        if not os.path.isdir(root):
            continue
        if layer not in ALLOWED:
            bad.append("%s/: a directory no layer rule knows (add it to %s)" % (layer, __file__))
            continue
        for dirpath, _, names in os.walk(root):
            for name in sorted(names):
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                for m in INCLUDE.finditer(text):
                    dep = m.group(1)
                    if dep == layer:
                        continue
                    if dep in WIRE:
                        ok = layer in WIRE_SPEAKERS
                    else:
                        ok = dep in ALLOWED[layer]
                    if not ok:
                        line = text.count("\n", 0, m.start()) + 1
                        bad.append("%s:%d: %s/ may not include %s/ (%s)"
                                   % (os.path.relpath(path, os.path.dirname(src)), line, layer,
                                      dep, m.group(0).strip()))
    return bad


def self_test():
    """The check must catch an upward edge and a wire include, and pass a
    clean tree: run on a scratch tree first, so a broken rule fails too."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "src")
        for mod, text in (("base", ""), ("task", '#include "base/x.h"\n'),
                          ("api", '#include "containerd/x.pb-c.h"\n#include "task/y.h"\n')):
            os.makedirs(os.path.join(src, mod))
            with open(os.path.join(src, mod, "a.c"), "w") as f:
                f.write(text)
        assert check(src) == [], check(src)
        with open(os.path.join(src, "task", "b.c"), "w") as f:
            f.write('#include "sandbox/z.h"\n#include "google/protobuf/any.pb-c.h"\n')
        bad = check(src)
        assert len(bad) == 2 and "task/ may not include sandbox/" in bad[0], bad


def main(argv):
    self_test()
    src = argv[1] if len(argv) > 1 else os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    bad = check(src)
    for b in bad:
        print(b)
    print("%d include edges against the layering" % len(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
