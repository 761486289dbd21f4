"""The offline sandbox ("pause") image for the CRI tests.

There is no pause image without a registry, so the sandbox image reuses the
busybox layer of ociimage.py with a config whose entrypoint parks forever:
`/bin/sleep 2147483647` as user 65535, like pause's. As pid 1 of the pod's
pid namespace busybox sleep ignores SIGTERM; that is fine because CRI only
ever sends the sandbox SIGKILL. The argv is distinctive so a test can tell
whether a pause-image process exists at all (PAUSE_ARGV).
"""

import gzip
import hashlib
import io
import json
import os
import tarfile

import ociimage

PAUSE_NAME = "podshim.invalid/e2e/pause:1"
PAUSE_ARGV = ["/bin/sleep", "2147483647"]
PAUSE_USER = "65535:65535"


def build_pause_archive(out_path, name=PAUSE_NAME):
    """Write an OCI archive of the sandbox image to out_path; return its name."""
    layer = ociimage.build_layer()
    gz = gzip.compress(layer, compresslevel=6, mtime=0)
    arch = ociimage._goarch()
    blobs = {}
    config = {
        "architecture": arch,
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Entrypoint": PAUSE_ARGV[:1], "Cmd": PAUSE_ARGV[1:],
                   "User": PAUSE_USER, "WorkingDir": "/"},
        "rootfs": {"type": "layers",
                   "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
        "history": [{"created_by": "podshim tests/e2e/cri/images.py"}],
    }
    cfg = ociimage._blob(blobs, json.dumps(config, sort_keys=True).encode(),
                         ociimage.MT_CONFIG)
    lay = ociimage._blob(blobs, gz, ociimage.MT_LAYER_GZ)
    manifest = {"schemaVersion": 2, "mediaType": ociimage.MT_MANIFEST,
                "config": cfg, "layers": [lay]}
    man = ociimage._blob(blobs, json.dumps(manifest, sort_keys=True).encode(),
                         ociimage.MT_MANIFEST)
    man["platform"] = {"architecture": arch, "os": "linux"}
    man["annotations"] = {"io.containerd.image.name": name,
                          "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]}
    index = {"schemaVersion": 2, "mediaType": ociimage.MT_INDEX, "manifests": [man]}

    tmp = out_path + ".tmp"
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tar:
        entries = [("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode()),
                   ("index.json", json.dumps(index, sort_keys=True).encode())]
        entries += [("blobs/sha256/" + d.split(":", 1)[1], data)
                    for d, data in sorted(blobs.items())]
        for d in ("blobs", "blobs/sha256"):
            tar.addfile(ociimage._info(d, tarfile.DIRTYPE, 0o755))
        for path, data in entries:
            tar.addfile(ociimage._info(path, tarfile.REGTYPE, 0o644, len(data)),
                        io.BytesIO(data))
    os.replace(tmp, out_path)
    return name
