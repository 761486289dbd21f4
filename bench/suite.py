#!/usr/bin/env python3
"""podshim vs containerd-shim-runc-v2, side by side on ONE private
CRI-enabled containerd (tests/e2e/cri/env.py) with both runtime handlers:
runc (io.containerd.runc.v2) and podshim (io.containerd.podshim.v2).

Every metric runs for both handlers in the same round, and the order of the
handlers alternates from round to round so that machine noise hits both
alike. Writes OUT/results.json, OUT/latest.md and OUT/chart.png; prints the
table. Run through bench/run.sh (it builds the shim and the Go client).

Usage (root): PODSHIM_BIN_DIR=DIR /usr/bin/python3 bench/suite.py
                  [--quick] [--out DIR] [--staterps PATH] [--publish DIR]
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
sys.path.insert(0, HERE)
from cri import env as cri_env  # noqa: E402
from cri import pods as cri_pods  # noqa: E402

import measure  # noqa: E402
import report  # noqa: E402

HANDLERS = ["runc", "podshim"]

FULL = {"rounds": 5, "execs": 10, "many": 50, "many_rounds": 2, "mib": 1024,
        "tput_rounds": 3, "state_n": 20000, "state_rounds": 3, "growth_max": 100000,
        "growth_budget_s": 540}
QUICK = {"rounds": 1, "execs": 3, "many": 5, "many_rounds": 1, "mib": 64,
         "tput_rounds": 1, "state_n": 2000, "state_rounds": 1, "growth_max": 200,
         "growth_budget_s": 30}


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def order(r):
    return HANDLERS if r % 2 == 0 else list(reversed(HANDLERS))


def add(samples, handler, values):
    for k, v in values.items():
        samples[handler].setdefault(k, []).append(v)


def growth_n(samples, cfg):
    """The number of exec cycles that fits the time budget per handler."""
    slowest = max(statistics.median(samples[h]["exec_sync_s"]) for h in HANDLERS)
    fits = int(cfg["growth_budget_s"] / (slowest * 1.2))
    return max(100, min(cfg["growth_max"], fits)), slowest


def run_all(env, cfg, staterps, samples, meta):
    factories = {h: cri_pods.PodFactory(env, h) for h in HANDLERS}
    for r in range(cfg["rounds"]):
        for h in order(r):
            log("round %d/%d: pod lifecycle, %s" % (r + 1, cfg["rounds"], h))
            add(samples, h, measure.pod_round(factories[h], cfg["execs"]))
    for r in range(cfg["state_rounds"]):
        for h in order(r):
            log("round %d/%d: %d State calls, %s" % (r + 1, cfg["state_rounds"],
                                                     cfg["state_n"], h))
            add(samples, h, measure.state_rtt(env, factories[h], staterps, cfg["state_n"]))
    ctr = measure.import_ctr_image(env)
    for r in range(cfg["tput_rounds"]):
        for h in order(r):
            log("round %d/%d: %d MiB of stdout, %s" % (r + 1, cfg["tput_rounds"], cfg["mib"], h))
            add(samples, h, measure.stdout_throughput(env, ctr, h, cfg["mib"]))
    for r in range(cfg["many_rounds"]):
        for h in order(r):
            log("round %d/%d: %d pods, %s" % (r + 1, cfg["many_rounds"], cfg["many"], h))
            add(samples, h, measure.many_pods(factories[h], cfg["many"]))
    n, slowest = growth_n(samples, cfg)
    meta["growth_execs"] = n
    if cfg is QUICK:
        meta["notes"].append("quick mode: memory growth over N = %d ExecSync cycles only." % n)
    elif n < 100000:
        meta["notes"].append(
            "memory growth measured over N = %d ExecSync cycles, not 100,000: the slowest "
            "ExecSync took %.1f ms (median) here, so 100,000 would need %.0f min per handler; N is "
            "what fits %d s." % (n, slowest * 1000, 100000 * slowest / 60,
                                 cfg["growth_budget_s"]))
    for h in order(0):
        log("memory growth: %d ExecSync(true), %s" % (n, h))
        # a hard stop at twice the budget; the cycles done are recorded
        add(samples, h, measure.exec_growth(factories[h], n, cfg["growth_budget_s"] * 2))
        done = samples[h]["growth_execs"][-1]
        if done < n:
            meta["notes"].append("%s: the growth loop hit its time cap after %d of %d cycles."
                                 % (h, done, n))
    return factories


def write_outputs(samples, meta, out, publish):
    rows = report.build_rows(samples, meta)
    text = report.table(rows, meta)
    os.makedirs(out, exist_ok=True)
    report.write_json(os.path.join(out, "results.json"), rows, samples, meta)
    header = ("# podshim vs containerd-shim-runc-v2 (%s mode, %s)\n\n%s\n\n"
              % (meta["mode"], meta["date"], meta["host"]))
    with open(os.path.join(out, "latest.md"), "w") as f:
        f.write(header + text)
    png = os.path.join(out, "chart.png")
    report.chart(rows, meta, png, out)
    if publish:
        os.makedirs(publish, exist_ok=True)
        shutil.copyfile(os.path.join(out, "latest.md"), os.path.join(publish, "latest.md"))
        shutil.copyfile(png, os.path.join(publish, "chart.png"))
    print()
    print(text)
    print("wrote %s/results.json, latest.md, chart.png%s"
          % (out, "; copied latest.md and chart.png to " + publish if publish else ""))


def host_line(bindir):
    def ver(argv):
        try:
            p = subprocess.run(argv, capture_output=True, timeout=10)
            return p.stdout.decode(errors="replace").splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    return ("Host: %s, %d CPUs, kernel %s; %s; %s; shim binary %s"
            % (platform.node(), os.cpu_count(), platform.release(),
               ver(["containerd", "--version"]), ver(["runc", "--version"]),
               os.path.join(bindir, "containerd-shim-podshim-v2")))


def main():
    ap = argparse.ArgumentParser(description="podshim vs runc-v2 benchmarks")
    ap.add_argument("--quick", action="store_true", help="smoke pass: 1 round, small sizes")
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--staterps", default=None,
                    help="Go State client (bench/staterps); Python client if absent")
    ap.add_argument("--publish", default=None, help="also copy latest.md and chart.png here")
    args = ap.parse_args()
    cfg = QUICK if args.quick else FULL
    bindir = os.path.abspath(os.environ.get("PODSHIM_BIN_DIR", os.path.join(HERE, "..", "build")))
    staterps = args.staterps if args.staterps and os.access(args.staterps, os.X_OK) else None
    client = ("Go client" if staterps else "FALLBACK: Python test client (Go client unavailable)")
    meta = {"mode": "quick" if args.quick else "full", "config": cfg,
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "host": host_line(bindir),
            "rounds_text": "%d rounds (pod lifecycle), %d (State), %d (stdout), %d (%d pods)"
            % (cfg["rounds"], cfg["state_rounds"], cfg["tput_rounds"], cfg["many_rounds"],
               cfg["many"]),
            "notes": [], "state_client": client}
    if staterps:
        meta["notes"].append("State round trips: bench/staterps, containerd's own Go task client "
                             "(runtime/v2/task NewTaskClient over github.com/containerd/ttrpc, "
                             "Debian's Go sources), one connection, sequential calls.")
    samples = {h: {} for h in HANDLERS}
    env = cri_env.CriEnv(bindir)
    env.cd.debug = False  # containerd debug logging would dominate the timings
    t0 = time.monotonic()
    problems = []
    try:
        log("starting the private CRI containerd (%s)" % env.dir)
        env.start()
        env.events.close()  # an event reader per exec only adds noise
        run_all(env, cfg, staterps, samples, meta)
    finally:
        log("teardown")
        if env.cd.proc is not None and env.cd.proc.poll() is None:
            try:
                env.cd.ctr(measure.CTR_NAMESPACE).cleanup_namespace()
            except Exception as e:  # noqa: BLE001 - teardown goes on
                problems.append("ctr namespace cleanup: %s" % e)
        problems += env.teardown()
    meta["growth"] = meta.get("growth_execs", 0)
    meta["labels"] = {"many": cfg["many"], "mib": cfg["mib"], "client": client,
                      "growth": "{:,}".format(meta.get("growth_execs", 0))}
    meta["seconds"] = round(time.monotonic() - t0, 1)
    write_outputs(samples, meta, args.out, args.publish)
    log("done in %.0f s" % meta["seconds"])
    if problems:
        print("teardown problems: %s" % json.dumps(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
