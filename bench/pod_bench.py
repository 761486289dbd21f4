#!/usr/bin/env python3
"""Pod cost side by side: podshim vs containerd's runc-v2 shim, one private
CRI containerd, handlers interleaved round by round so machine noise hits
both alike. Per pod (infra/sandbox + 3 containers): PSS and RSS of the
shim plus the sandbox process (pause for runc-v2, the infra process for
podshim), RunPodSandbox latency, and container create+start latency.

Usage (root): PODSHIM_BIN_DIR=build /usr/bin/python3 bench/pod_bench.py [ROUNDS]"""
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
from cri import env as cri_env  # noqa: E402
from cri import pods as cri_pods  # noqa: E402

HANDLERS = ["runc", "podshim"]


def rollup(pid):
    vals = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f.readlines()[1:]:
            k, v = line.split(":", 1)
            vals[k] = int(v.split()[0])
    return vals


def one_pod(factory):
    t0 = time.monotonic()
    pod = factory.run(host_network=True)
    t_sandbox = time.monotonic() - t0
    starts = []
    for i in range(3):
        t = time.monotonic()
        factory.add_container(pod, "c%d" % i)
        starts.append(time.monotonic() - t)
    time.sleep(0.3)
    shims = factory.pod_shims(pod)
    procs = list(shims) + [pod.pid]
    mem = [rollup(p) for p in procs]
    return {
        "run_pod_sandbox_s": t_sandbox,
        "container_start_s": statistics.median(starts),
        "pss_kb": sum(m["Pss"] for m in mem),
        "rss_kb": sum(m["Rss"] for m in mem),
        "shims": len(shims),
    }


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    bindir = os.path.abspath(os.environ.get("PODSHIM_BIN_DIR", os.path.join(HERE, "..", "build")))
    env = cri_env.CriEnv(bindir)
    env.start()
    results = {h: [] for h in HANDLERS}
    try:
        factories = {h: cri_pods.PodFactory(env, h) for h in HANDLERS}
        for r in range(rounds):
            for h in (HANDLERS if r % 2 == 0 else list(reversed(HANDLERS))):
                results[h].append(one_pod(factories[h]))
                factories[h].cleanup()
    finally:
        problems = env.teardown()
    metrics = ["pss_kb", "rss_kb", "run_pod_sandbox_s", "container_start_s"]
    print(f"{'metric':22} {'runc-v2':>12} {'podshim':>12} {'ratio':>7}   (median of {rounds}; min..max)")
    for m in metrics:
        a = [x[m] for x in results["runc"]]
        b = [x[m] for x in results["podshim"]]
        ma, mb = statistics.median(a), statistics.median(b)
        fmt = (lambda v: f"{v:.0f}") if m.endswith("kb") else (lambda v: f"{v * 1000:.1f}ms")
        print(f"{m:22} {fmt(ma):>12} {fmt(mb):>12} {mb / ma:7.3f}   "
              f"runc {fmt(min(a))}..{fmt(max(a))}, podshim {fmt(min(b))}..{fmt(max(b))}")
    print("shims per pod:", {h: sorted(set(x["shims"] for x in results[h])) for h in HANDLERS})
    if problems:
        print("teardown problems:", problems)
        sys.exit(1)


if __name__ == "__main__":
    main()
