#!/usr/bin/python3
"""VM pods (docs/vm-backend.md) beside runc-v2 with its pause container, on
one private CRI containerd (tests/e2e/cri/env.py), rounds alternating the
two handlers: RunPodSandbox (for a VM pod: QEMU's boot up to the guest
agent's Hello), the first container's create + start, and the host memory
of the pod: its shim(s) plus its sandbox process (pause, or QEMU with the
whole guest in it), read twice, when the pod is ready and again after
--settle seconds (the guest hands freed pages back through the balloon's
free page reporting, so QEMU's footprint shrinks after boot).

    sudo PODSHIM_BIN_DIR=build /usr/bin/python3 bench/vm_pods.py [--rounds N]
        [--settle S] [--cni]

No target: these hosts have no /dev/kvm, so QEMU runs TCG (PODSHIM_VM_ACCEL
picks the accelerator where KVM exists). A VM pod's containers need the
agent's container calls (docs/vm-backend.md, slice 2); without them the
container column says so instead of a number.
"""

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
sys.path.insert(0, HERE)

from cri import env as cri_env  # noqa: E402
from cri import pods as cri_pods  # noqa: E402

import measure  # noqa: E402

HANDLERS = ["runc", "podshim-vm"]


def one_round(factory, cni, settle):
    out = {}
    pod = factory.run(host_network=not cni)
    out["run_pod_s"] = factory.run_latencies[-1]
    pids = measure.sandbox_and_shims(factory, pod)
    out["pss_ready_kb"], out["rss_ready_kb"] = measure.memory_of(pids)
    t = time.monotonic()
    try:
        factory.add_container(pod, "c0")
        out["container_s"] = time.monotonic() - t
    except Exception as e:  # a backend without containers yet: say so
        if "UNIMPLEMENTED" not in str(e) and "not supported" not in str(e):
            raise
    time.sleep(settle)
    out["pss_settled_kb"], out["rss_settled_kb"] = measure.memory_of(pids)
    factory.remove(pod)
    return out


ROWS = [("run_pod_s", "RunPodSandbox", 1000, "ms"),
        ("container_s", "first container created + started", 1000, "ms"),
        ("pss_ready_kb", "PSS, shim(s) + sandbox process, pod ready", 1 / 1024, "MiB"),
        ("rss_ready_kb", "RSS, the same", 1 / 1024, "MiB"),
        ("pss_settled_kb", "PSS after the settle time", 1 / 1024, "MiB"),
        ("rss_settled_kb", "RSS after the settle time", 1 / 1024, "MiB")]


def cell(samples, key, scale, unit):
    v = samples.get(key)
    if not v:
        return "-"
    return "%.1f %s (%.1f-%.1f)" % (statistics.median(v) * scale, unit, min(v) * scale,
                                    max(v) * scale)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--settle", type=float, default=5.0,
                    help="seconds between the two memory readings (default 5)")
    ap.add_argument("--cni", action="store_true",
                    help="pods on the CNI bridge (default: host network)")
    args = ap.parse_args()
    env = cri_env.CriEnv(os.path.abspath(os.environ.get("PODSHIM_BIN_DIR", "build")))
    env.cd.debug = False
    samples = {h: {} for h in HANDLERS}
    try:
        env.start()
        factories = {h: cri_pods.PodFactory(env, h) for h in HANDLERS}
        for h in HANDLERS:  # warm-up: images, page cache, the VM's initramfs
            one_round(factories[h], args.cni, 0)
        for r in range(args.rounds):
            order = HANDLERS if r % 2 == 0 else list(reversed(HANDLERS))
            for h in order:
                for k, v in one_round(factories[h], args.cni, args.settle).items():
                    samples[h].setdefault(k, []).append(v)
    finally:
        problems = env.teardown()
        if problems:
            print("teardown: %s" % problems, file=sys.stderr)
    print("containerd %s, %d rounds, medians (min-max), %s, QEMU accelerator %s"
          % (env.cd.dist.version_text, args.rounds, "CNI bridge" if args.cni else "host network",
             os.environ.get("PODSHIM_VM_ACCEL", "tcg")))
    print("| metric | runc-v2 + pause | podshim VM pod | ratio |")
    print("|---|---|---|---|")
    for key, label, scale, unit in ROWS:
        a, b = samples["runc"].get(key), samples["podshim-vm"].get(key)
        ratio = "%.1f" % (statistics.median(b) / statistics.median(a)) if a and b else "-"
        print("| %s | %s | %s | %s |" % (label, cell(samples["runc"], key, scale, unit),
                                         cell(samples["podshim-vm"], key, scale, unit), ratio))
    return 0


if __name__ == "__main__":
    sys.exit(main())
