"""Build a busybox OCI image archive without any network access.

The single layer holds Debian's statically linked /bin/busybox (package
busybox-static), a symlink in /bin for every applet it reports, a minimal
/etc/passwd and /etc/group, and the empty directories a container expects
(/tmp, /proc, /sys, /dev, /root, /etc). The archive is an OCI image layout
(oci-layout, index.json, blobs/sha256/...) that `ctr images import` accepts;
the index annotations name the image so no --base-name is needed.

Everything is deterministic (fixed mtimes, sorted entries, gzip without a
timestamp), so the digests only change when busybox itself does.

Used by the e2e conftest and, as a script, by scripts/demo.sh:
    /usr/bin/python3 tests/e2e/ociimage.py OUT.tar [--name REF]
    /usr/bin/python3 tests/e2e/ociimage.py OUT.tar --pause   # cri/images.py's sandbox image
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import tarfile

DEFAULT_NAME = "docker.io/library/busybox:e2e"
BUSYBOX = "/bin/busybox"

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"

_PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
_GROUP = "root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n"
_DIRS = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "proc": 0o555,
         "root": 0o700, "sys": 0o555, "tmp": 0o1777, "var": 0o755}


def _goarch():
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm",
            "ppc64le": "ppc64le", "s390x": "s390x", "i686": "386"}.get(m, m)


def _applets(busybox):
    out = subprocess.run([busybox, "--list"], check=True, capture_output=True,
                         timeout=10).stdout.decode()
    names = sorted({a.strip() for a in out.split() if a.strip()})
    # an applet name must be a plain file name to become a /bin symlink
    return [a for a in names if "/" not in a and a not in (".", "..", "busybox")]


def _info(name, kind, mode, size=0, link=""):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.size = size
    ti.linkname = link
    ti.mtime = 0
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    return ti


def build_layer(busybox=BUSYBOX):
    """Return the uncompressed layer tar as bytes."""
    with open(busybox, "rb") as f:
        bb = f.read()
    files = {"etc/passwd": _PASSWD.encode(), "etc/group": _GROUP.encode(),
             "etc/hostname": b"busybox\n"}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in sorted(_DIRS):
            tar.addfile(_info(d, tarfile.DIRTYPE, _DIRS[d]))
        tar.addfile(_info("bin/busybox", tarfile.REGTYPE, 0o755, len(bb)),
                    io.BytesIO(bb))
        for a in _applets(busybox):
            tar.addfile(_info("bin/" + a, tarfile.SYMTYPE, 0o777, link="busybox"))
        for name in sorted(files):
            data = files[name]
            tar.addfile(_info(name, tarfile.REGTYPE, 0o644, len(data)),
                        io.BytesIO(data))
    return buf.getvalue()


def _blob(blobs, data, media_type):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def build_archive(out_path, name=DEFAULT_NAME, busybox=BUSYBOX):
    """Write the OCI archive to out_path; return the image name."""
    layer = build_layer(busybox)
    gz = gzip.compress(layer, compresslevel=6, mtime=0)
    arch = _goarch()
    blobs = {}
    config = {
        "architecture": arch,
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "WorkingDir": "/"},
        "rootfs": {"type": "layers",
                   "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
        "history": [{"created_by": "podshim tests/e2e/ociimage.py"}],
    }
    cfg_desc = _blob(blobs, json.dumps(config, sort_keys=True).encode(), MT_CONFIG)
    layer_desc = _blob(blobs, gz, MT_LAYER_GZ)
    manifest = {"schemaVersion": 2, "mediaType": MT_MANIFEST,
                "config": cfg_desc, "layers": [layer_desc]}
    man_desc = _blob(blobs, json.dumps(manifest, sort_keys=True).encode(), MT_MANIFEST)
    man_desc["platform"] = {"architecture": arch, "os": "linux"}
    man_desc["annotations"] = {
        # containerd takes this one verbatim as the image name ...
        "io.containerd.image.name": name,
        # ... other OCI tools read the tag from this one
        "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1],
    }
    index = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": [man_desc]}

    tmp = out_path + ".tmp"
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tar:
        entries = [("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode()),
                   ("index.json", json.dumps(index, sort_keys=True).encode())]
        entries += [("blobs/sha256/" + d.split(":", 1)[1], data)
                    for d, data in sorted(blobs.items())]
        for d in ("blobs", "blobs/sha256"):
            tar.addfile(_info(d, tarfile.DIRTYPE, 0o755))
        for path, data in entries:
            tar.addfile(_info(path, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))
    os.replace(tmp, out_path)
    return name


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", help="path of the OCI archive to write")
    p.add_argument("--name", default=DEFAULT_NAME, help="image reference")
    p.add_argument("--busybox", default=BUSYBOX, help="static busybox binary")
    p.add_argument("--pause", action="store_true",
                   help="write the CRI tests' offline sandbox image instead (cri/images.py; "
                   "its own name, --name does not apply)")
    args = p.parse_args(argv)
    if args.pause:
        from cri import images  # this script's directory is on sys.path
        print(images.build_pause_archive(args.out))
        return 0
    print(build_archive(args.out, args.name, args.busybox))
    return 0


if __name__ == "__main__":
    sys.exit(main())
