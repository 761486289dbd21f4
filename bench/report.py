"""Turns the bench samples into the table (markdown), results.json and a
gnuplot chart.

A metric's value per handler is the median of its samples, with min..max
as the spread; the ratio is podshim / runc-v2. A target is either a ratio
bound or, for memory growth, an absolute bound on podshim's own value.
"""

import json
import os
import statistics
import subprocess

# key, label, unit, scale (sample -> unit), better
METRICS = [
    ("pod_pss_kb", "Pod memory PSS: shim(s) + sandbox process, infra + 3 containers", "KiB", 1,
     "lower"),
    ("pod_rss_kb", "Pod memory RSS: shim(s) + sandbox process, infra + 3 containers", "KiB", 1,
     "lower"),
    ("many_pss_kb", "PSS per pod, average over {many} pods (sandbox + 1 container)", "KiB", 1,
     "lower"),
    ("many_rss_kb", "RSS per pod, average over {many} pods (sandbox + 1 container)", "KiB", 1,
     "lower"),
    ("growth_rss_kb", "Shim RSS growth over {growth}", "KiB", 1, "lower"),
    ("run_pod_host_s", "RunPodSandbox, host network", "ms", 1000, "lower"),
    ("run_pod_cni_s", "RunPodSandbox, CNI bridge", "ms", 1000, "lower"),
    ("pod_start_cni_s", "Full pod start: CNI sandbox + 1 container started", "ms", 1000,
     "lower"),
    ("container_start_s", "Container create + start", "ms", 1000, "lower"),
    ("container_start_crun_s", "Container create + start, crun for both shims", "ms", 1000,
     "lower"),
    ("exec_sync_s", "ExecSync(true)", "ms", 1000, "lower"),
    ("exec_sync_crun_s", "ExecSync(true), crun for both shims", "ms", 1000, "lower"),
    # the floor: the same exec run by the bench itself; equal for both shims up to noise
    ("runtime_exec_s", "`runc exec` of the same process run directly (no shim, no containerd)",
     "ms", 1000, "lower"),
    ("runtime_exec_crun_s", "`crun exec` of the same process run directly", "ms", 1000, "lower"),
    ("exec_above_runtime_s", "ExecSync(true) above the direct `runc exec`: shim + containerd",
     "ms", 1000, "lower"),
    ("exec_above_runtime_crun_s", "ExecSync(true) above the direct `crun exec`: shim + containerd",
     "ms", 1000, "lower"),
    # concurrent loops: wall time / cycles is the inverse of throughput, not latency
    ("growth_exec_s", "Growth loop wall time per cycle: {growth}", "ms", 1000, "lower"),
    ("growth_shim_cpu_s", "Shim CPU time per ExecSync over the growth loop", "ms", 1000, "lower"),
    ("stop_remove_s", "StopPodSandbox + RemovePodSandbox, host network, 3 containers", "ms",
     1000, "lower"),
    ("stop_remove_cni_s", "StopPodSandbox + RemovePodSandbox, CNI, 1 container", "ms", 1000,
     "lower"),
    ("stdout_mib_s", "stdout throughput, {mib} MiB via ctr", "MiB/s", 1, "higher"),
    ("shim_cpu_s_per_gib", "Shim CPU time per GiB of stdout", "s", 1, "lower"),
    ("state_per_s", "ttrpc State round trips per second, {client}", "calls/s", 1, "higher"),
    ("state_p50_us", "ttrpc State latency p50", "us", 1, "lower"),
    ("state_p99_us", "ttrpc State latency p99", "us", 1, "lower"),
]

# The targets, per containerd line: key -> ("ratio<=", x) | ("ratio>=", x) |
# ("abs<=", x); a metric not listed has none there. containerd 2.x (issue 11
# item 8) sets pod PSS, RunPodSandbox, container start and State; the memory
# growth, ExecSync and stdout rows are informational there.
TARGETS = {
    "1.6": {
        "pod_pss_kb": ("ratio<=", 0.1),
        "many_pss_kb": ("ratio<=", 0.1),
        "growth_rss_kb": ("abs<=", 64),
        "run_pod_host_s": ("ratio<=", 0.5),
        "run_pod_cni_s": ("ratio<=", 0.5),
        "container_start_s": ("ratio<=", 0.9),
        "exec_sync_s": ("ratio<=", 0.8),
        "stdout_mib_s": ("ratio>=", 1.5),
        "state_per_s": ("ratio>=", 2.0),
    },
    "2.1": {
        "pod_pss_kb": ("ratio<=", 0.1),
        "many_pss_kb": ("ratio<=", 0.1),
        "run_pod_host_s": ("ratio<=", 0.5),
        "run_pod_cni_s": ("ratio<=", 0.5),
        "container_start_s": ("ratio<=", 0.9),
        "state_per_s": ("ratio>=", 2.0),
    },
}


def target_set(version):
    """The target set for a containerd version tuple: 2.1's for 2.x, 1.6's
    for 1.x (1.7 has no set of its own; it speaks to shims as 1.6 does)."""
    return "2.1" if version[0] >= 2 else "1.6"


def _fmt(v, unit):
    if unit in ("KiB", "calls/s", "us") or abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.2f" % v


def _target_text(t):
    if t is None:
        return ""
    op, x = t
    if op == "abs<=":
        return "podshim <= %g" % x
    return "%s %g" % (op[len("ratio"):], x)


def build_rows(samples, meta):
    """One dict per metric that has samples for both handlers."""
    rows = []
    targets = TARGETS[meta.get("targets", "1.6")]
    for key, label, unit, scale, better in METRICS:
        target = targets.get(key)
        a = [v * scale for v in samples["runc"].get(key, [])]
        b = [v * scale for v in samples["podshim"].get(key, [])]
        if not a or not b:
            continue
        ma, mb = statistics.median(a), statistics.median(b)
        ratio = mb / ma if ma else None
        met = None
        if target is not None:
            op, x = target
            if op == "abs<=":
                met = mb <= x
            elif ratio is not None:
                met = ratio <= x if op == "ratio<=" else ratio >= x
        rows.append({
            "key": key, "label": label.format(**meta["labels"]), "unit": unit,
            "better": better, "runc": {"median": ma, "min": min(a), "max": max(a), "n": len(a)},
            "podshim": {"median": mb, "min": min(b), "max": max(b), "n": len(b)},
            "ratio": ratio, "target": _target_text(target),
            "target_spec": list(target) if target else None, "met": met,
        })
    return rows


def _cell(s, unit):
    if s["n"] == 1:
        return _fmt(s["median"], unit)
    return "%s (%s..%s)" % (_fmt(s["median"], unit), _fmt(s["min"], unit),
                            _fmt(s["max"], unit))


def table(rows, meta):
    """The markdown table, a note line per missed target, and the legend."""
    runc, podshim = meta.get("columns", ("runc-v2", "podshim"))
    out = [meta["title"], ""] if meta.get("title") else []
    out += ["| metric | unit | %s | %s | ratio | target | met? |" % (runc, podshim),
            "|---|---|---|---|---|---|---|"]
    for r in rows:
        met = {None: "", True: "yes", False: "**NO: missed**"}[r["met"]]
        ratio = "%.3f" % r["ratio"] if r["ratio"] is not None else "-"
        out.append("| %s | %s | %s | %s | %s | %s | %s |"
                   % (r["label"], r["unit"], _cell(r["runc"], r["unit"]),
                      _cell(r["podshim"], r["unit"]), ratio, r["target"], met))
    out.append("")
    out.append("Values are medians over %s, with (min..max); ratio = podshim / runc-v2."
               % meta["rounds_text"])
    missed = [r for r in rows if r["met"] is False]
    hit = [r for r in rows if r["met"] is True]
    out.append("Targets met: %d of %d." % (len(hit), len(hit) + len(missed)))
    for r in missed:
        out.append("- MISSED: %s: ratio %s, target %s."
                   % (r["label"], "%.3f" % r["ratio"] if r["ratio"] else "-", r["target"])
                   if not r["target"].startswith("podshim")
                   else "- MISSED: %s: podshim %s %s, target %s."
                   % (r["label"], _fmt(r["podshim"]["median"], r["unit"]), r["unit"],
                      r["target"]))
    for note in meta.get("notes", []):
        out.append("- Note: " + note)
    return "\n".join(out) + "\n"


def write_json(path, rows, samples, meta):
    with open(path, "w") as f:
        json.dump({"meta": meta, "metrics": rows, "samples": samples}, f, indent=1,
                  sort_keys=True)


# ------------------------------------------------------------------ chart

_GNUPLOT = """\
set terminal pngcairo size 1400,{height} font "sans,10"
set output "{png}"
set title "podshim vs containerd-shim-runc-v2 ({mode}{setup})\\nadvantage factor, higher is better for podshim\\n(runc-v2 / podshim for costs, podshim / runc-v2 for rates; black marks: target)"
set style fill solid 0.8 border -1
set boxwidth 0.7
set logscale x 10
set xrange [0.05:*]
set grid x
set ytics nomirror
set yrange [-0.7:{nrows}-0.3]
set xlabel "factor (log scale), 1 = parity"
unset key
set arrow from 1, graph 0 to 1, graph 1 nohead lc rgb "#444444" dt 2
plot "{dat}" using (0.05):1:(0.05):2:($1-0.35):($1+0.35):4 with boxxyerror lc rgb variable, \\
     "" using ($3 > 0 ? $3 : 1/0):1 with points pt 7 ps 1.5 lc rgb "black", \\
     "" using 2:1:5:ytic(6) with labels left offset 0.5,0 font "sans,9"
"""


def chart(rows, meta, png, workdir):
    """Horizontal bars of podshim's advantage factor per metric; green where
    a target is met, red where missed, grey without a target."""
    # the direct runtime rows are a control (ratio ~1 by construction), not a shim figure
    plotted = [r for r in rows if r["ratio"] and r["key"] != "growth_rss_kb"
               and not r["key"].startswith("runtime_exec")]
    dat = os.path.join(workdir, "chart.dat")
    with open(dat, "w") as f:
        for i, r in enumerate(reversed(plotted)):
            adv = 1 / r["ratio"] if r["better"] == "lower" else r["ratio"]
            tgt = -1
            if r["target_spec"] and r["target_spec"][0].startswith("ratio"):
                x = r["target_spec"][1]
                tgt = 1 / x if r["better"] == "lower" else x
            color = {None: 0x999999, True: 0x2E8B57, False: 0xC0392B}[r["met"]]
            label = r["label"].replace('"', "'")
            f.write('%d %g %g %d "%.2fx" "%s"\n' % (i, adv, tgt, color, adv, label))
    gp = os.path.join(workdir, "chart.gp")
    with open(gp, "w") as f:
        f.write(_GNUPLOT.format(png=png, dat=dat, mode=meta["mode"], nrows=len(plotted),
                                setup=", " + meta["setup"] if meta.get("setup") else "",
                                height=135 + 38 * len(plotted)))
    p = subprocess.run(["gnuplot", gp], capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("gnuplot failed: %s" % p.stderr.decode(errors="replace"))
