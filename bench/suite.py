#!/usr/bin/env python3
"""podshim vs containerd-shim-runc-v2, side by side on ONE private
CRI-enabled containerd (tests/e2e/cri/env.py) with both runtime handlers:
runc (io.containerd.runc.v2) and podshim (io.containerd.podshim.v2), plus
runc-crun and podshim-crun: the same two shims running crun instead of runc.
With runc, `runc exec` is most of an ExecSync for either shim, so the crun
handlers carry the informational crun rows and the 100,000-cycle memory
growth loop (which would take hours per shim with runc on a small box).

Every metric runs for both handlers in the same round, and the order of the
handlers alternates from round to round so that machine noise hits both
alike. Writes OUT/results.json, OUT/latest.md and OUT/chart.png; prints the
table. Run through bench/run.sh (it builds the shim and the Go client).

--containerd picks the containerd build as the e2e harness does
(harness.Dist: the system's 1.6 by default, or e.g. 2.1.9 as
scripts/fetch-containerd.sh unpacks it); runc-v2 is always that build's own
containerd-shim-runc-v2 (under 2.x it answers bootstrap version 3 and groups
a pod's containers itself). --bootstrap 3 runs podshim in its grouped mode
(2.x only; README "Bootstrap modes under containerd 2.x"); 2, plain, is the
default. The targets are those of the containerd line (report.TARGETS).

Usage (root): PODSHIM_BIN_DIR=DIR /usr/bin/python3 bench/suite.py
                  [--quick] [--growth N] [--out DIR] [--staterps PATH] [--publish DIR]
                  [--containerd SPEC] [--bootstrap 2|3]
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
import harness  # noqa: E402
from cri import env as cri_env  # noqa: E402
from cri import pods as cri_pods  # noqa: E402

import measure  # noqa: E402
import report  # noqa: E402

HANDLERS = ["runc", "podshim"]
MODES = {2: "plain", 3: "grouped"}  # podshim's bootstrap versions
# the crun handler of each shim (samples stay keyed by the shim)
CRUN = {"runc": "runc-crun", "podshim": "podshim-crun"}

# growth: ExecSync cycles per shim, issued by growth_loops concurrent client
# loops so that no client round trip leaves a core idle. On the 2-core dev
# VM one ExecSync with crun takes ~25 ms of wall time and ~45 ms of CPU
# summed over crun (most of it, in the kernel), containerd and the shim:
# the box is nearly CPU-bound with one loop, two gain 5-10 %, more gain
# nothing, and 100,000 cycles take 45-60 min per shim there. growth_cap_s
# stops each shim's loop whatever N says (the cycles done are recorded).
FULL = {"rounds": 10, "execs": 10, "many": 50, "many_rounds": 2, "mib": 1024,
        "tput_rounds": 3, "state_n": 20000, "state_rounds": 3, "growth": 100000,
        "growth_loops": 2, "growth_cap_s": 6000}
QUICK = {"rounds": 1, "execs": 3, "many": 5, "many_rounds": 1, "mib": 64,
         "tput_rounds": 1, "state_n": 2000, "state_rounds": 1, "growth": 300,
         "growth_loops": 2, "growth_cap_s": 60}


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def order(r):
    return HANDLERS if r % 2 == 0 else list(reversed(HANDLERS))


def add(samples, handler, values):
    for k, v in values.items():
        samples[handler].setdefault(k, []).append(v)


def run_rounds(factories, cfg, samples):
    """The pod lifecycle with runc, then create + start and ExecSync with
    crun, for both shims in every round."""
    for r in range(cfg["rounds"]):
        for h in order(r):
            log("round %d/%d: pod lifecycle, %s" % (r + 1, cfg["rounds"], h))
            add(samples, h, measure.pod_round(factories[h], cfg["execs"]))
        for h in order(r):
            log("round %d/%d: create + start and ExecSync, %s" % (r + 1, cfg["rounds"], CRUN[h]))
            add(samples, h, measure.crun_round(factories[CRUN[h]], cfg["execs"]))


def run_growth(factories, cfg, samples, meta):
    """N ExecSync(true) cycles per shim on its crun handler, one shim after
    the other so each has the box to itself."""
    n, loops = cfg["growth"], cfg["growth_loops"]
    for h in order(0):
        log("memory growth: %d ExecSync(true), %s, %d concurrent loops" % (n, CRUN[h], loops))
        add(samples, h, measure.exec_growth(factories[CRUN[h]], n, cfg["growth_cap_s"], loops))
        done = samples[h]["growth_execs"][-1]
        if done < n:
            meta["notes"].append("%s: the growth loop hit its %d s time cap after %d of %d "
                                 "cycles." % (h, cfg["growth_cap_s"], done, n))
    meta["notes"].append(
        "memory growth: %d ExecSync(true) cycles into one container per shim, crun as the "
        "OCI runtime, %d concurrent client loops; the loop took %.0f s (runc-v2) and %.0f s "
        "(podshim)." % (n, loops, samples["runc"]["growth_seconds"][-1],
                        samples["podshim"]["growth_seconds"][-1]))


def exec_note(samples, meta):
    """Where an ExecSync's time goes: the OCI runtime's own exec, run
    directly by the bench, against what each shim plus containerd add."""
    ms = {h: {k: statistics.median(samples[h][k]) * 1000
              for k in ("exec_sync_s", "runtime_exec_s", "exec_above_runtime_s",
                        "exec_sync_crun_s", "runtime_exec_crun_s", "exec_above_runtime_crun_s")}
          for h in HANDLERS}
    r, p = ms["runc"], ms["podshim"]
    first = ("ExecSync(true) keeps its target against runc-v2 with runc as the OCI runtime. "
             if "exec_sync_s" in report.TARGETS[meta["targets"]] else
             "ExecSync(true) has no target under containerd %s. " % meta["targets"])
    return (first + "`runc exec` run directly takes %.1f ms of runc-v2's %.1f ms ExecSync, so even a "
            "shim and containerd costing nothing would score %.2f. Above the runtime, "
            "podshim + containerd add %.1f ms and runc-v2 + containerd %.1f ms with runc "
            "(%.1f and %.1f ms with crun, whose direct exec is %.1f ms)."
            % (r["runtime_exec_s"], r["exec_sync_s"], r["runtime_exec_s"] / r["exec_sync_s"],
               p["exec_above_runtime_s"], r["exec_above_runtime_s"],
               p["exec_above_runtime_crun_s"], r["exec_above_runtime_crun_s"],
               r["runtime_exec_crun_s"]))


def check_endpoints(env, samples, meta):
    """podshim answered start in the mode the run asked for (its bootstrap
    version, read from the bundles by state_rtt), or the table would say a
    mode that did not run; under another containerd than the system's 1.6, a
    note says what each shim bootstrapped as and how many shims a pod had."""
    seen = {h: sorted(set(samples[h]["bootstrap_version"])) for h in HANDLERS}
    if seen["podshim"] != [meta["bootstrap"]]:
        raise AssertionError("podshim bootstrapped as version %s, the run asked for %d (%s)"
                             % (seen["podshim"], meta["bootstrap"], meta["podshim_mode"]))
    if env.cd.dist.system:
        return
    per_pod = {h: sorted(set(samples[h]["shims_per_pod"])) for h in HANDLERS}
    svc = {h: ", ".join("%d (%s)" % (v, harness.TASK_V3 if v >= 3 else harness.TASK_V2)
                        for v in seen[h]) for h in HANDLERS}
    meta["notes"].append(
        "Shims under containerd %s, as read from the containers' bundles: runc-v2 "
        "bootstrap version %s, podshim version %s; shims per pod %s (runc-v2) and %s (podshim)."
        % (meta["containerd"], svc["runc"], svc["podshim"],
           "/".join(map(str, per_pod["runc"])), "/".join(map(str, per_pod["podshim"]))))


def run_all(env, cfg, staterps, samples, meta):
    names = HANDLERS + [CRUN[h] for h in HANDLERS]
    factories = {h: cri_pods.PodFactory(env, h) for h in names}
    run_rounds(factories, cfg, samples)
    meta["notes"].append(exec_note(samples, meta))
    for r in range(cfg["state_rounds"]):
        for h in order(r):
            log("round %d/%d: %d State calls, %s" % (r + 1, cfg["state_rounds"],
                                                     cfg["state_n"], h))
            add(samples, h, measure.state_rtt(env, factories[h], staterps, cfg["state_n"]))
    check_endpoints(env, samples, meta)
    ctr = measure.import_ctr_image(env)
    for r in range(cfg["tput_rounds"]):
        for h in order(r):
            log("round %d/%d: %d MiB of stdout, %s" % (r + 1, cfg["tput_rounds"], cfg["mib"], h))
            add(samples, h, measure.stdout_throughput(env, ctr, h, cfg["mib"]))
            lost = samples[h]["stdout_lost_bytes"][-1]
            if lost:
                meta["notes"].append("%s lost the last %d bytes of %d MiB of stdout in round %d."
                                     % (h, lost, cfg["mib"], r + 1))
    for r in range(cfg["many_rounds"]):
        for h in order(r):
            log("round %d/%d: %d pods, %s" % (r + 1, cfg["many_rounds"], cfg["many"], h))
            add(samples, h, measure.many_pods(factories[h], cfg["many"]))
    run_growth(factories, cfg, samples, meta)
    return factories


def growth_label(samples, cfg):
    """What the growth rows say was run: N, or each shim's count when the
    time cap stopped a loop early."""
    done = {h: samples[h].get("growth_execs", [0])[-1] for h in HANDLERS}
    if done["runc"] == done["podshim"]:
        text = "{:,}".format(done["runc"])
    else:
        text = "{:,} (runc-v2) / {:,} (podshim)".format(done["runc"], done["podshim"])
    return "%s ExecSync(true) in one pod (crun, %d concurrent loops)" % (text, cfg["growth_loops"])


def write_outputs(samples, meta, out, publish):
    rows = report.build_rows(samples, meta)
    text = report.table(rows, meta)
    os.makedirs(out, exist_ok=True)
    report.write_json(os.path.join(out, "results.json"), rows, samples, meta)
    header = ("# podshim vs containerd-shim-runc-v2 (%s mode, %s, %s)\n\n%s\n\n"
              % (meta["mode"], meta["setup"], meta["date"], meta["host"]))
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


def host_line(bindir, dist_):
    """The machine and the binaries that ran: the containerd build, and the
    OCI runtimes the shims found on its PATH."""
    # as harness.Containerd.env() builds it (PODSHIM_BIN_DIR holds no runtime)
    path = os.pathsep.join(dist_.path_dirs() + [os.environ.get("PATH", os.defpath)])

    def ver(name):
        found = shutil.which(name, path=path)
        if not found:
            return "no %s" % name
        try:
            p = subprocess.run([found, "--version"], capture_output=True, timeout=10)
            return "%s (%s)" % (p.stdout.decode(errors="replace").splitlines()[0], found)
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "%s ?" % found
    return ("Host: %s, %d CPUs, kernel %s; containerd %s (%s); %s; %s; shim binary %s"
            % (platform.node(), os.cpu_count(), platform.release(), dist_.version_text,
               dist_.bin_dir, ver("runc"), ver("crun"),
               os.path.join(bindir, "containerd-shim-podshim-v2")))


def setup_meta(meta, dist_, bootstrap):
    """What the header, the table and the chart say about the run: the
    containerd version, podshim's mode and the target set."""
    mode = MODES[bootstrap]
    meta.update({"containerd": dist_.version_text, "bootstrap": bootstrap,
                 "podshim_mode": mode, "targets": report.target_set(dist_.version),
                 "setup": "containerd %s, podshim %s" % (dist_.version_text, mode)})
    if not dist_.system:
        # the system's 1.6 keeps the table as it always was (CI's smoke pass)
        meta["columns"] = ("runc-v2 (%s)" % dist_.version_text, "podshim (%s)" % mode)
        meta["title"] = ("containerd %s; runc-v2 is its own containerd-shim-runc-v2; podshim "
                         "%s (bootstrap version %d); targets for containerd %s."
                         % (dist_.version_text, mode, bootstrap, meta["targets"]))


def resolve_dist(ap, args):
    """The containerd build of --containerd, for this process and the
    harness alike (harness.dist() reads PODSHIM_CONTAINERD once)."""
    os.environ["PODSHIM_CONTAINERD"] = args.containerd
    try:
        dist_ = harness.dist()
    except AssertionError as e:
        ap.error(str(e))
    if args.bootstrap >= 3 and not dist_.v2:
        ap.error("--bootstrap %d (podshim grouped) needs containerd 2.x, not %s"
                 % (args.bootstrap, dist_.version_text))
    return dist_


def growth_only(handler, cfg, out, dist_, bootstrap):
    """The memory growth loop alone for one shim, on its crun handler."""
    bindir = os.path.abspath(os.environ.get("PODSHIM_BIN_DIR", os.path.join(HERE, "..", "build")))
    env = cri_env.CriEnv(bindir, bootstrap_version=bootstrap)
    env.cd.debug = False
    try:
        log("starting the private CRI containerd (%s)" % env.dir)
        env.start()
        env.events.close()
        log("memory growth: %d ExecSync(true), %s, %d concurrent loops"
            % (cfg["growth"], CRUN[handler], cfg["growth_loops"]))
        r = measure.exec_growth(cri_pods.PodFactory(env, CRUN[handler]), cfg["growth"],
                                cfg["growth_cap_s"], cfg["growth_loops"])
    finally:
        # containerd's log (the shim's warnings are in it) outlives the run
        os.makedirs(out, exist_ok=True)
        if os.path.exists(env.cd.log_path):
            shutil.copyfile(env.cd.log_path, os.path.join(out, "containerd-%s.log" % handler))
        log("teardown")
        problems = env.teardown()
    r.update({"handler": handler, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
              "host": host_line(bindir, dist_), "requested": cfg["growth"],
              "containerd": dist_.version_text, "podshim_mode": MODES[bootstrap]})
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "growth-%s.json" % handler)
    with open(path, "w") as f:
        json.dump(r, f, indent=1)
    print("%s%s: RSS %d -> %d KiB (%+d) over %d ExecSync cycles in %.0f s, shim CPU %.2f ms "
          "per cycle; wrote %s"
          % (handler, "" if dist_.system else " (containerd %s, podshim %s)"
             % (dist_.version_text, MODES[bootstrap]), r["growth_before_rss_kb"], r["growth_after_rss_kb"], r["growth_rss_kb"],
             r["growth_execs"], r["growth_seconds"], r["growth_shim_cpu_s"] * 1000, path))
    return 1 if problems or r["growth_execs"] < cfg["growth"] else 0


def main():
    ap = argparse.ArgumentParser(description="podshim vs runc-v2 benchmarks")
    ap.add_argument("--quick", action="store_true", help="smoke pass: 1 round, small sizes")
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--staterps", default=None,
                    help="Go State client (bench/staterps); Python client if absent")
    ap.add_argument("--publish", default=None, help="also copy latest.md and chart.png here")
    ap.add_argument("--growth", type=int, default=None, metavar="N",
                    help="ExecSync cycles per shim in the memory growth loop (default: "
                    "%d, --quick: %d)" % (FULL["growth"], QUICK["growth"]))
    ap.add_argument("--growth-cap", type=int, default=None, metavar="S",
                    help="stop handing out growth cycles after S seconds per shim (default: "
                    "%d, --quick: %d)" % (FULL["growth_cap_s"], QUICK["growth_cap_s"]))
    ap.add_argument("--growth-only", choices=HANDLERS, default=None, metavar="HANDLER",
                    help="run only the memory growth loop, for one shim (runc or podshim), "
                    "and write OUT/growth-HANDLER.json: a leak check, not a comparison")
    ap.add_argument("--containerd", default="system", metavar="SPEC",
                    help="the containerd build (tests/e2e/harness.py Dist): system (the "
                    "default, Debian's 1.6), X.Y.Z from scripts/fetch-containerd.sh, or a prefix")
    ap.add_argument("--bootstrap", type=int, choices=sorted(MODES), default=2,
                    help="podshim's bootstrap version: 2 plain (default), 3 grouped (2.x only)")
    args = ap.parse_args()
    dist_ = resolve_dist(ap, args)
    cfg = dict(QUICK if args.quick else FULL)
    if args.growth is not None:
        if args.growth < 1:
            ap.error("--growth must be at least 1")
        cfg["growth"] = args.growth
    if args.growth_cap is not None:
        cfg["growth_cap_s"] = max(1, args.growth_cap)
    if args.growth_only:
        return growth_only(args.growth_only, cfg, args.out, dist_, args.bootstrap)
    bindir = os.path.abspath(os.environ.get("PODSHIM_BIN_DIR", os.path.join(HERE, "..", "build")))
    staterps = args.staterps if args.staterps and os.access(args.staterps, os.X_OK) else None
    client = ("Go client" if staterps else "FALLBACK: Python test client (Go client unavailable)")
    meta = {"mode": "quick" if args.quick else "full", "config": cfg,
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "host": host_line(bindir, dist_),
            "rounds_text": "%d rounds (pod lifecycle), %d (State), %d (stdout), %d (%d pods)"
            % (cfg["rounds"], cfg["state_rounds"], cfg["tput_rounds"], cfg["many_rounds"],
               cfg["many"]),
            "notes": [], "state_client": client}
    setup_meta(meta, dist_, args.bootstrap)
    if staterps:
        meta["notes"].append("State round trips: bench/staterps, containerd's own Go task client "
                             "(runtime/v2/task NewTaskClient over github.com/containerd/ttrpc, "
                             "Debian's Go sources), one connection, sequential calls." +
                             ("" if dist_.system else
                              " The shim's endpoint comes from the task's bundle as containerd "
                              "reads it; a version-3 shim gets the same client's State on "
                              "containerd.task.v3.Task (ttrpc Client.Call, v2's messages)."))
    samples = {h: {} for h in HANDLERS}
    env = cri_env.CriEnv(bindir, bootstrap_version=args.bootstrap)
    env.cd.debug = False  # containerd debug logging would dominate the timings
    t0 = time.monotonic()
    problems = []
    try:
        log("starting the private CRI containerd (%s)%s"
            % (env.dir, "" if dist_.system else ": containerd %s, podshim %s"
               % (dist_.version_text, MODES[args.bootstrap])))
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
    meta["labels"] = {"many": cfg["many"], "mib": cfg["mib"], "client": client,
                      "growth": growth_label(samples, cfg)}
    meta["seconds"] = round(time.monotonic() - t0, 1)
    write_outputs(samples, meta, args.out, args.publish)
    log("done in %.0f s" % meta["seconds"])
    if problems:
        print("teardown problems: %s" % json.dumps(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
