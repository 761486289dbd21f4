"""Per-pod memory of two podshim builds, side by side (an A/B, podshim only).

    sudo /usr/bin/python3 bench/pss_ab.py [--pods N] [--rounds R] [--cni]
        [--containerd SPEC] [--bootstrap 2|3] DIR_A DIR_B

Each DIR is a build directory holding containerd-shim-podshim-v2 and
podshim-infra. Every round starts one private CRI containerd per build, in
the order A, B (reversed every other round, so drift on the box hits both),
runs N pods of sandbox + 1 container, and reads smaps of every shim and
sandbox process, as bench/measure.py's many_pods does. With --cni the pods
get a CNI network namespace and one PodSandboxStats each first, so the
shim's netlink path (src/net/) has run in every shim before it is measured;
otherwise they are host-network pods, as in bench/run.sh's "PSS per pod" row.
--containerd and --bootstrap pick the containerd build and podshim's mode
as bench/suite.py does (default: the system's 1.6, plain).

Prints, per build, the median over the rounds of: PSS and RSS per pod (shim
+ sandbox process), the shim's own PSS and Private_Dirty, and the Rss / Pss
/ Private_Dirty of the shim binary's own mappings in one shim (a statically
linked library lives there). PSS of shared pages moves with everything else
that maps them on the box; Private_Dirty is the per-shim cost that does not.
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

import suite  # noqa: E402

import measure  # noqa: E402

SHIM = "containerd-shim-podshim-v2"


def binary_mappings(pid):
    """{perms: {Rss, Pss, Private_Dirty}} (kB) of the shim binary's mappings."""
    out, cur = {}, None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            parts = line.split()
            if not parts[0].endswith(":"):
                cur = None
                if len(parts) > 5 and os.path.basename(parts[5]) == SHIM:
                    cur = out.setdefault(parts[1], {"Rss": 0, "Pss": 0, "Private_Dirty": 0})
            elif cur is not None and parts[0][:-1] in cur:
                cur[parts[0][:-1]] += int(parts[1])
    return out


def one_round(bindir, n, cni, bootstrap):
    env = cri_env.CriEnv(bindir, bootstrap_version=bootstrap)
    env.cd.debug = False
    try:
        env.start()
        env.events.close()
        f = cri_pods.PodFactory(env, "podshim")
        pods = []
        for _ in range(n):
            pod = f.run(host_network=not cni)
            f.add_container(pod, "c0")
            pods.append(pod)
        if cni:
            for pod in pods:
                st = f.cri.pod_stats(pod.id)
                if st.linux.network.default_interface.name != "eth0":
                    raise AssertionError("no pod network stats: %s" % st.linux.network)
        time.sleep(1.0)  # as many_pods: lazily touched pages settle
        pids, shims = set(), []
        for pod in pods:
            pids.update(measure.sandbox_and_shims(f, pod))
            shims += f.pod_shims(pod)
        pss, rss = measure.memory_of(sorted(pids))
        rollups = [measure.rollup(p) for p in shims]
        r = {"pss_per_pod": pss / n, "rss_per_pod": rss / n,
             "shim_pss": statistics.mean(m["Pss"] for m in rollups),
             "shim_private_dirty": statistics.mean(m["Private_Dirty"] for m in rollups),
             "binary": binary_mappings(shims[len(shims) // 2])}
        errors = f.cleanup()
        if errors:
            raise AssertionError("removing the pods failed: %s" % errors)
        return r
    finally:
        problems = env.teardown()
        if problems:
            print("teardown problems: %s" % problems, file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--cni", action="store_true",
                    help="CNI pods with one PodSandboxStats each (runs src/net/)")
    ap.add_argument("--containerd", default="system", metavar="SPEC",
                    help="the containerd build (tests/e2e/harness.py Dist; default: system)")
    ap.add_argument("--bootstrap", type=int, choices=(2, 3), default=2,
                    help="podshim's bootstrap version: 2 plain (default), 3 grouped (2.x only)")
    ap.add_argument("dirs", nargs=2, metavar="DIR")
    args = ap.parse_args()
    dist_ = suite.resolve_dist(ap, args)
    dirs = [os.path.abspath(d) for d in args.dirs]
    res = {d: [] for d in dirs}
    for r in range(args.rounds):
        for d in (dirs if r % 2 == 0 else list(reversed(dirs))):
            res[d].append(one_round(d, args.pods, args.cni, args.bootstrap))
            print("round %d %s: PSS per pod %.1f KiB" % (r + 1, d, res[d][-1]["pss_per_pod"]),
                  flush=True)
    kind = "CNI pods + PodSandboxStats" if args.cni else "host-network pods"
    print("\n%d %s (sandbox + 1 container), median of %d rounds; KiB; containerd %s, "
          "podshim %s" % (args.pods, kind, args.rounds, dist_.version_text,
                          "grouped" if args.bootstrap >= 3 else "plain"))
    print("| build | PSS per pod | RSS per pod | shim PSS | shim Private_Dirty | "
          "binary mappings of one shim: Rss / Pss / Private_Dirty |")
    print("|---|---|---|---|---|---|")
    for d in dirs:
        med = {k: statistics.median(x[k] for x in res[d])
               for k in ("pss_per_pod", "rss_per_pod", "shim_pss", "shim_private_dirty")}
        b = res[d][-1]["binary"]
        maps = ", ".join("%s %d / %d / %d" % (p, v["Rss"], v["Pss"], v["Private_Dirty"])
                         for p, v in sorted(b.items()))
        print("| %s | %.1f | %.1f | %.1f | %.1f | %s |"
              % (d, med["pss_per_pod"], med["rss_per_pod"], med["shim_pss"],
                 med["shim_private_dirty"], maps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
