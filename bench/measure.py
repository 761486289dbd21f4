"""The measurements of the bench suite, one function per metric family.

Every function takes the running CriEnv (one private CRI containerd serving
both handlers) and one handler name ("runc" or "podshim") and returns plain
numbers; bench/suite.py interleaves the handlers and bench/report.py turns
the numbers into the table, the JSON and the chart.
"""

import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import threading
import time

import harness
from cri import env as cri_env

CTR_NAMESPACE = "bench"  # ctr-driven tasks (throughput) stay out of k8s.io
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------ /proc helpers


def rollup(pid):
    """smaps_rollup of pid as {field: kB}."""
    vals = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f.readlines()[1:]:
            k, v = line.split(":", 1)
            vals[k] = int(v.split()[0])
    return vals


def cpu_seconds(pid):
    """utime + stime of pid (its own threads, not its reaped children)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def sandbox_and_shims(factory, pod):
    """Shim pids serving pod plus its sandbox process (pause or infra)."""
    shims = factory.pod_shims(pod)
    if not shims:
        raise AssertionError("no %s shim found for pod %s" % (factory.handler, pod.id))
    return shims + [pod.pid]


def memory_of(pids):
    mem = [rollup(p) for p in pids]
    return sum(m["Pss"] for m in mem), sum(m["Rss"] for m in mem)


# ------------------------------------------------------------- pod metrics


def direct_runtime_exec(factory, cid):
    """A DirectExec that runs `true` in container cid the way a shim's Exec +
    Start does (`<runtime> exec --detach --process P --pid-file F`), straight
    from the bench: no shim, no containerd. Its time is the floor under an
    ExecSync that no shim can go below."""
    bundle = factory.env.bundle(cid)
    with open(os.path.join(bundle, "options.json")) as f:
        opts = json.load(f)
    with open(os.path.join(bundle, "config.json")) as f:
        process = json.load(f)["process"]
    process.update(args=["true"], terminal=False)
    workdir = factory.env.dir  # the private containerd's directory, removed at teardown
    spec = os.path.join(workdir, "direct-exec-%s.json" % cid[:12])
    with open(spec, "w") as f:
        json.dump(process, f)
    # both shims keep runtime state under <root>/<namespace>, runc-v2's default root
    root = os.path.join(opts.get("root") or "/run/containerd/runc", cri_env.NAMESPACE)
    if not os.path.isdir(os.path.join(root, cid)):
        raise AssertionError("no runtime state for %s under %s" % (cid, root))
    argv = [runtime_path(factory.env, opts.get("binary_name") or "runc"), "--root", root,
            "exec", "--process", spec,
            "--detach", "--pid-file", os.path.join(workdir, "direct.pid"), cid]
    return DirectExec(argv)


def runtime_path(env, name):
    """The OCI runtime binary the shims of env run for name: resolved on
    containerd's own PATH (harness.Dist puts sid's crun 1.28 first there
    from containerd 1.7 on), not the bench's; another crun than the one that
    created the container refuses or misreads its state."""
    if os.path.isabs(name):
        return name
    found = shutil.which(name, path=env.cd.env()["PATH"])
    if not found:
        raise AssertionError("no %s on containerd's PATH" % name)
    return found


class DirectExec:
    """One runtime exec command line, run and timed by the subreaping
    helper bench/direct_exec.py (see there why). run() returns seconds;
    close() ends the helper."""

    def __init__(self, argv):
        self.line = (json.dumps(argv) + "\n").encode()
        self.helper = subprocess.Popen(
            [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                          "direct_exec.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def run(self):
        self.helper.stdin.write(self.line)
        self.helper.stdin.flush()
        reply = self.helper.stdout.readline()
        if not reply:
            raise AssertionError("bench/direct_exec.py ended (exit %s)" % self.helper.wait())
        reply = json.loads(reply)
        if "error" in reply:
            raise AssertionError(reply["error"])
        return reply["seconds"]

    def close(self):
        self.helper.stdin.close()
        if self.helper.wait(timeout=30) != 0:
            raise AssertionError("bench/direct_exec.py exited %d" % self.helper.returncode)


def starts_and_execs(factory, pod, execs):
    """Creates and starts 3 containers in pod, then runs `execs`
    ExecSync(true) in the first, each followed by the same exec run
    directly through the OCI runtime (so noise hits both alike).

    Returns the median seconds of a container start, of an ExecSync, of the
    direct runtime exec, and of the difference: what the shim and
    containerd add above the runtime."""
    starts = []
    for i in range(3):
        t = time.monotonic()
        factory.add_container(pod, "c%d" % i)
        starts.append(time.monotonic() - t)
    direct = direct_runtime_exec(factory, pod.containers[0])
    lat, floor = [], []
    try:
        for _ in range(execs):
            t = time.monotonic()
            _, _, code = factory.cri.exec_sync(pod.containers[0], ["true"])
            lat.append(time.monotonic() - t)
            if code != 0:
                raise AssertionError("ExecSync true exited %d" % code)
            floor.append(direct.run())
    finally:
        direct.close()
    ex, fl = statistics.median(lat), statistics.median(floor)
    return statistics.median(starts), ex, fl, ex - fl


def pod_round(factory, execs):
    """One host-network pod with 3 containers, then one CNI pod with 1.

    Returns latencies in seconds and the memory (kB) of the first pod's
    shim(s) plus sandbox process."""
    out = {}
    pod = factory.run(host_network=True)
    out["run_pod_host_s"] = factory.run_latencies[-1]
    (out["container_start_s"], out["exec_sync_s"], out["runtime_exec_s"],
     out["exec_above_runtime_s"]) = starts_and_execs(factory, pod, execs)
    time.sleep(0.3)  # let lazily touched pages settle before reading smaps
    pids = sandbox_and_shims(factory, pod)
    out["pod_pss_kb"], out["pod_rss_kb"] = memory_of(pids)
    out["shims_per_pod"] = len(pids) - 1
    t = time.monotonic()
    factory.remove(pod)
    out["stop_remove_s"] = time.monotonic() - t

    # CNI pod: RunPodSandbox, and the full start (sandbox + 1 container)
    pod = factory.run(host_network=False)
    out["run_pod_cni_s"] = factory.run_latencies[-1]
    t = time.monotonic()
    factory.add_container(pod, "c0")
    out["pod_start_cni_s"] = out["run_pod_cni_s"] + time.monotonic() - t
    t = time.monotonic()
    factory.remove(pod)
    out["stop_remove_cni_s"] = time.monotonic() - t
    return out


def many_pods(factory, n):
    """n host-network pods of sandbox + 1 container: total PSS/RSS (kB) of
    every shim and sandbox process, and the per-pod averages."""
    pods = []
    for _ in range(n):
        pod = factory.run(host_network=True)
        factory.add_container(pod, "c0")
        pods.append(pod)
    time.sleep(1.0)
    pids = set()
    for pod in pods:
        pids.update(sandbox_and_shims(factory, pod))
    pss, rss = memory_of(sorted(pids))
    shims = len(pids) - len(pods)
    errors = factory.cleanup()
    if errors:
        raise AssertionError("removing the pods failed: %s" % errors)
    return {"many_pss_kb": pss / n, "many_rss_kb": rss / n, "many_total_pss_kb": pss,
            "many_total_rss_kb": rss, "many_shims": shims}


def crun_round(factory, execs):
    """Container create + start and ExecSync(true) on a crun handler: with
    runc, `runc exec` is most of an ExecSync on either shim (the
    runtime_exec rows say how much), so these show the shims' own cost with
    a cheaper OCI runtime under them."""
    pod = factory.run(host_network=True)
    start, execsync, floor, above = starts_and_execs(factory, pod, execs)
    factory.remove(pod)
    return {"container_start_crun_s": start, "exec_sync_crun_s": execsync,
            "runtime_exec_crun_s": floor, "exec_above_runtime_crun_s": above}


class _Cycles:
    """Hands out up to n cycles to concurrent exec loops and counts the
    finished ones; stops handing out at n, at the deadline or after the
    first error (which the caller re-raises)."""

    def __init__(self, n, deadline):
        self.lock = threading.Lock()
        self.n, self.deadline = n, deadline
        self.taken = self.done = 0
        self.error = None

    def take(self):
        with self.lock:
            if self.error or self.taken >= self.n or time.monotonic() > self.deadline:
                return False
            self.taken += 1
            return True

    def finish(self):
        with self.lock:
            self.done += 1
            return self.done

    def fail(self, e):
        with self.lock:
            self.error = self.error or e


def _exec_loop(cri, cid, cycles, shim, curve, step, counts):
    """One client loop of ExecSync(true); the loop that finishes a multiple
    of step reads the shim's RSS for the curve. Appends its own cycle count
    to counts (proof that every loop took part)."""
    mine = 0
    try:
        while cycles.take():
            _, _, code = cri.exec_sync(cid, ["true"])
            if code != 0:
                raise AssertionError("ExecSync true exited %d" % code)
            mine += 1
            done = cycles.finish()
            if done % step == 0:
                curve.append((done, rollup(shim)["Rss"]))
    except Exception as e:  # noqa: BLE001 - handed to the caller
        cycles.fail(e)
    counts.append(mine)


def exec_growth(factory, n, max_s, loops=1, warmup=50, samples=10):
    """Shim RSS (kB) before and after n ExecSync(true) into one container,
    issued by `loops` concurrent client loops (so the run is bounded by the
    shim and the OCI runtime, not by one client's round trip), after a
    warm-up; a few samples in between show the curve. Stops handing out
    cycles after max_s seconds (growth_execs says how many ran)."""
    cri = factory.cri
    pod = factory.run(host_network=True)
    # the loop runs for an hour or more: the default `sleep 1000` would end
    # the container (and the run) after 16 min 40 s
    cid = factory.add_container(pod, "c0", cmd=("sleep", "2147483647"))
    shim = factory.pod_shims(pod)[0]
    for _ in range(warmup):
        cri.exec_sync(cid, ["true"])
    time.sleep(0.5)
    before = rollup(shim)
    curve = [(0, before["Rss"])]
    cpu0 = cpu_seconds(shim)
    t0 = time.monotonic()
    cycles = _Cycles(n, t0 + max_s)
    counts = []
    threads = [threading.Thread(target=_exec_loop,
                                args=(cri, cid, cycles, shim, curve, max(1, n // samples), counts),
                                daemon=True)  # an interrupted bench must not wait for them
               for _ in range(loops)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds(shim) - cpu0
    if cycles.error:
        raise AssertionError("growth loop failed after %d cycles: %s"
                             % (cycles.done, cycles.error))
    time.sleep(0.5)
    after = rollup(shim)
    curve.sort()
    if curve[-1][0] != cycles.done:  # the time cap stopped the loop between samples
        curve.append((cycles.done, after["Rss"]))
    factory.remove(pod)
    return {"growth_rss_kb": after["Rss"] - before["Rss"],
            "growth_pss_kb": after["Pss"] - before["Pss"],
            "growth_before_rss_kb": before["Rss"], "growth_after_rss_kb": after["Rss"],
            "growth_execs": cycles.done, "growth_seconds": elapsed,
            "growth_exec_s": elapsed / max(1, cycles.done), "growth_curve": curve,
            "growth_loop_cycles": sorted(counts),
            # the shim's own CPU (not its reaped children's: the runtime)
            "growth_shim_cpu_s": cpu / max(1, cycles.done)}


# ---------------------------------------------------------- stdout via ctr


def import_ctr_image(env):
    ctr = env.cd.ctr(CTR_NAMESPACE)
    ctr("images", "import", "--all-platforms", os.path.join(env.dir, "busybox-oci.tar"),
        timeout=120)
    return ctr


def stdout_throughput(env, ctr, handler, mib, timeout=300):
    """`ctr run` a busybox dd writing mib MiB to stdout; we read ctr's
    stdout. Returns MiB/s from first to last byte and the shim's CPU
    seconds per GiB over the same window."""
    runtime = cri_env.HANDLERS[handler]
    cid = "tput-%s-%d" % (handler, time.monotonic_ns())
    argv = ctr.argv("run", "--rm", "--runtime", runtime, env.busybox, cid,
                    "dd", "if=/dev/zero", "bs=1M", "count=%d" % mib)
    want = mib << 20
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    err = []
    t_err = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)
    t_err.start()
    fd = proc.stdout.fileno()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    got, shim, cpu0, t_first = 0, None, 0.0, None
    deadline = time.monotonic() + timeout
    try:
        while got < want:
            if time.monotonic() > deadline:
                raise AssertionError("stdout throughput: timed out after %d of %d bytes"
                                     % (got, want))
            r, _, _ = select.select([fd], [], [], 1.0)
            if not r:
                continue
            n = os.readv(fd, [view])
            if n == 0:
                break
            if t_first is None:
                t_first = time.monotonic()
                shim = _one_shim(env, handler, cid)
                cpu0 = cpu_seconds(shim)
            got += n
        t_last = time.monotonic()
        cpu1 = cpu_seconds(shim) if shim else 0.0
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        t_err.join(timeout=10)
    # Losing output is a bug: podshim's fails the run; the reference's (seen
    # with runc-v2 under load: the last pipe page) is recorded and reported.
    if proc.returncode != 0 or got == 0 or (got != want and handler == "podshim"):
        raise AssertionError("stdout throughput: read %d of %d bytes, ctr exit %s: %s"
                             % (got, want, proc.returncode, b"".join(err)[-2000:]))
    secs = t_last - t_first
    done_mib = got / (1 << 20)
    return {"stdout_mib_s": done_mib / secs, "shim_cpu_s_per_gib": (cpu1 - cpu0) * 1024 / done_mib,
            "stdout_lost_bytes": want - got}


def _one_shim(env, handler, cid):
    binary = env.shim_binary(handler)
    pids = harness.wait_until(lambda: harness.shim_processes(binary, CTR_NAMESPACE, cid),
                              10, 0.01, "the %s shim of %s" % (handler, cid))
    return pids[0]


# ---------------------------------------------------------- ttrpc State


def state_rtt(env, factory, client, n, conns=1):
    """State round trips on one pod's shim through a ttrpc client that is not
    ours (client = path of bench/staterps, containerd's Go task client), or
    through the Python test client when client is None. Either finds the
    shim from the container's bundle as containerd does (bootstrap.json,
    else `address`): version 3 is containerd.task.v3.Task."""
    pod = factory.run(host_network=True)
    cid = factory.add_container(pod, "c0")
    ep = env.endpoint(cid)
    try:
        if client:
            p = harness.run([client, "-bundle", env.bundle(cid), "-id", cid, "-namespace",
                             cri_env.NAMESPACE, "-n", str(n), "-c", str(conns)],
                            timeout=300)
            r = json.loads(p.stdout)
            if (r["version"], r["address"]) != (ep.version, ep.address):
                raise AssertionError("staterps read endpoint v%s %s, the bundle says %r"
                                     % (r["version"], r["address"], ep))
        else:
            r = _python_state_rtt(ep, cid, n)
    finally:
        factory.remove(pod)
    return {"state_per_s": r["calls_per_s"], "state_p50_us": r["p50_us"],
            "state_p99_us": r["p99_us"], "bootstrap_version": ep.version}


def _python_state_rtt(ep, cid, n):
    import ttrpc_client

    lat = []
    with ttrpc_client.Client(ep.socket, ttrpc_client.load_protos(), service=ep.service) as c:
        for _ in range(200):
            c.state(cid)
        t0 = time.perf_counter()
        for _ in range(n):
            t = time.perf_counter()
            c.state(cid)
            lat.append(time.perf_counter() - t)
        total = time.perf_counter() - t0
    lat.sort()
    return {"calls_per_s": n / total, "p50_us": lat[len(lat) // 2] * 1e6,
            "p99_us": lat[int((len(lat) - 1) * 0.99)] * 1e6}
