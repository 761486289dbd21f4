#!/usr/bin/env python3
"""State round trips against a live shim, for podshim and containerd's runc-v2
shim side by side on one private containerd (a first slice of the bench/
suite; the client is Python, so absolute numbers include its overhead).

Usage: /usr/bin/python3 bench/state_rtt.py [N] (as root; PODSHIM_BIN_DIR
points at the build holding containerd-shim-podshim-v2)."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
import harness  # noqa: E402
import ociimage  # noqa: E402
import ttrpc_client  # noqa: E402

RUNTIMES = ["io.containerd.podshim.v2", "io.containerd.runc.v2"]


def rollup(pid):
    vals = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f.readlines()[1:]:
            k, v = line.split(":", 1)
            vals[k] = int(v.split()[0])
    return vals


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    bindir = os.environ.get("PODSHIM_BIN_DIR", os.path.join(os.path.dirname(__file__), "..", "build"))
    cd = harness.Containerd(bin_dir=os.path.abspath(bindir), debug=False)
    cd.start()
    protos = ttrpc_client.load_protos()
    rows = []
    try:
        ctr = cd.ctr("bench")
        tar = os.path.join(cd.dir, "img.tar")
        name = ociimage.build_archive(tar)
        ctr("images", "import", tar, timeout=60)
        for rt in RUNTIMES:
            short = rt.split(".")[2]
            cid = "rtt-" + short
            ctr("run", "-d", "--runtime", rt, name, cid, "sleep", "1000")
            bundle = os.path.join(cd.state, "io.containerd.runtime.v2.task", "bench", cid)
            addr = open(os.path.join(bundle, "address")).read().replace("unix://", "")
            shim = harness.shim_processes(f"containerd-shim-{short}-v2", "bench")[0]
            mem = rollup(shim)
            lat = []
            with ttrpc_client.Client(addr, protos) as c:
                for _ in range(200):
                    c.state(cid)
                t0 = time.perf_counter()
                for _ in range(n):
                    t = time.perf_counter()
                    c.state(cid)
                    lat.append(time.perf_counter() - t)
                total = time.perf_counter() - t0
            lat.sort()
            rows.append((short, n / total, lat[len(lat) // 2] * 1e6, lat[int(len(lat) * 0.99)] * 1e6,
                         mem["Rss"], mem["Pss"]))
            ctr("task", "kill", "-s", "SIGKILL", cid)
            harness.wait_until(lambda: ctr.task_status(cid) in ("STOPPED", None), 10)
            ctr("task", "rm", cid, check=False)
            ctr("containers", "rm", cid, check=False)
    finally:
        cd.stop()
        cd.remove()
    print(f"{'shim':10} {'State/s':>9} {'p50 us':>8} {'p99 us':>8} {'RSS kB':>8} {'PSS kB':>8}")
    for r in rows:
        print(f"{r[0]:10} {r[1]:9.0f} {r[2]:8.1f} {r[3]:8.1f} {r[4]:8d} {r[5]:8d}")
    if len(rows) == 2:
        print(f"ratio podshim/runc-v2: State/s {rows[0][1] / rows[1][1]:.2f}, "
              f"PSS {rows[0][5] / rows[1][5]:.3f}")


if __name__ == "__main__":
    main()
