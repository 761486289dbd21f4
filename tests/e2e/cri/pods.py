"""Pods for one test: create through CRI, inspect from the host, and prove
that RemovePodSandbox left nothing behind.

A PodFactory is bound to one runtime handler; it remembers every pod it ran
so the test's teardown can stop and remove them even after a failure.
"""

import contextlib
import itertools
import os
import signal
import time
import uuid
import warnings

import harness

from cri import host
from cri import images

_seq = itertools.count(1)


class Pod:
    """A running pod: its CRI id and config plus what the host saw of it."""

    def __init__(self, pod_id, config, handler):
        self.id = pod_id
        self.config = config
        self.handler = handler
        self.containers = []
        self.info = {}  # verbose PodSandboxStatus info, captured while READY

    @property
    def pid(self):
        return self.info["pid"]

    @property
    def netns_path(self):
        for ns in self.info.get("runtimeSpec", {}).get("linux", {}).get("namespaces", []):
            if ns.get("type") == "network":
                return ns.get("path")
        return None

    @property
    def ids(self):
        return [self.id] + self.containers


class Remains:
    """Everything of a pod that must vanish with it, recorded while it runs."""

    def __init__(self, pod, shim_pids, container_pids, socket):
        self.pod = pod
        self.shim_pids = list(shim_pids)
        self.pids = [pod.pid] + list(container_pids)
        self.socket = socket
        self.netns = pod.netns_path


class PodFactory:
    def __init__(self, env, handler):
        self.env = env
        self.pb = env.cri.pb
        self.handler = handler
        self.pods = []
        self.run_latencies = []
        # make each pod's cgroup parent before RunPodSandbox, untimed, as
        # kubelet's pod container manager does (benchmarks)
        self.kubelet_cgroups = False

    @property
    def cri(self):
        """The environment's CRI client (a new one after a restart)."""
        return self.env.cri

    # ------------------------------------------------------------ configs

    def ns_options(self, host_network=False, pid_mode="CONTAINER"):
        pb = self.pb
        return pb.NamespaceOption(network=pb.NODE if host_network else pb.POD,
                                  pid=pb.NamespaceMode.Value(pid_mode), ipc=pb.POD)

    def pod_config(self, host_network=False, pid_mode="CONTAINER", log_directory=""):
        pb = self.pb
        n = next(_seq)
        uid = uuid.uuid4().hex
        name = "%s-%d-%d" % (self.handler, os.getpid(), n)
        return pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, uid=uid, namespace="podshim-e2e"),
            hostname="" if host_network else "pod-%s-%d" % (self.handler, n),
            log_directory=log_directory,
            labels={"podshim-e2e": "1"},
            linux=pb.LinuxPodSandboxConfig(
                cgroup_parent="/%s/pod%s" % (self.env.cgroup_root, uid),
                security_context=pb.LinuxSandboxSecurityContext(
                    namespace_options=self.ns_options(host_network, pid_mode))))

    def container_config(self, pod, name, cmd=("sleep", "1000")):
        pb = self.pb
        sc = pod.config.linux.security_context
        return pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name),
            image=pb.ImageSpec(image=self.env.busybox),
            command=list(cmd),
            labels={"podshim-e2e": "1"},
            linux=pb.LinuxContainerConfig(security_context=pb.LinuxContainerSecurityContext(
                namespace_options=sc.namespace_options)))

    # ------------------------------------------------------------ actions

    def run(self, host_network=False, pid_mode="CONTAINER", containers=0, log_directory=""):
        return self.run_config(self.pod_config(host_network, pid_mode, log_directory),
                               containers)

    def run_config(self, cfg, containers=0):
        """Runs a pod of a config made by pod_config and changed by the test.
        A host-network pod of a shim-sandboxer handler skips the test below
        containerd 2.3: RunPodSandbox of one crashes containerd 2.1.9 itself
        before any shim runs (containerd#12983, fixed in 2.3.0)."""
        from cri import env as cri_env

        if (self.handler in cri_env.SHIM_SANDBOXER
                and cfg.linux.security_context.namespace_options.network == self.pb.NODE
                and self.env.cd.dist.version < (2, 3, 0)):
            import pytest

            pytest.skip("containerd %s crashes on host-network pods with a shim sandboxer "
                        "(containerd#12983, fixed in 2.3.0)" % self.env.cd.dist.version_text)
        if self.kubelet_cgroups and cfg.linux.cgroup_parent:
            from cri import host

            host.make_cgroup_path(cfg.linux.cgroup_parent)
        t0 = time.monotonic()
        pod_id = self.cri.run_pod(cfg, self.handler)
        self.run_latencies.append(time.monotonic() - t0)
        pod = Pod(pod_id, cfg, self.handler)
        self.pods.append(pod)
        pod.info = self.cri.pod_info(pod_id)
        for i in range(containers):
            self.add_container(pod, "c%d" % i)
        return pod

    def add_container(self, pod, name, cmd=("sleep", "1000"), log_path=""):
        cfg = self.container_config(pod, name, cmd)
        cfg.log_path = log_path
        cid = self.cri.create_container(pod.id, cfg, pod.config)
        pod.containers.append(cid)
        self.cri.start_container(cid)
        return cid

    def container_pid(self, cid):
        return self.cri.container_info(cid)["pid"]

    def wait_pod_state(self, pod, state, timeout=15):
        return harness.wait_until(lambda: self.cri.pod_state(pod.id) == state, timeout, 0.05,
                                  "pod %s to be %s (is %s)"
                                  % (pod.id, state, self.cri.pod_state(pod.id)))

    def wait_container_state(self, cid, state, timeout=15):
        return harness.wait_until(lambda: self.cri.container_state(cid) == state, timeout,
                                  0.05, "container %s to be %s (is %s)"
                                  % (cid, state, self.cri.container_state(cid)))

    # --------------------------------------------------------- inspection

    def pod_shims(self, pod):
        """Shim daemons started for this pod (their -id is the sandbox id)."""
        return self.env.shims(self.handler, pod.id)

    def assert_reached_pod_shim(self, pod, tid):
        """How containerd reached podshim for task tid of pod (a podshim
        handler's), as the files of tid's bundle show. It ran `start`, whose
        `address` file (podshim writes it whatever the version: 1.x reads
        it) names the pod's socket, for every task under bootstrap version
        2, and under version 3 (containerd 2.x's grouped mode) for the pod
        alone, in either pod mode: there it created each container on the
        pod's socket directly, with no `start` and so no `address`, and
        recorded the pod in the bundle's `sandbox` file
        (core/runtime/v2/shim_manager.go, Start)."""
        bundle = self.env.bundle(tid)
        if self.env.bootstrap_version >= 3 and tid != pod.id:
            assert not os.path.exists(os.path.join(bundle, "address")), tid
            with open(os.path.join(bundle, "sandbox")) as f:
                assert f.read() == pod.id, tid
        else:
            with open(os.path.join(bundle, "address")) as f:
                assert f.read().strip() == "unix://" + self.env.socket(pod.id, self.handler), tid

    def own_task_metrics(self, pod):
        """The Stats of the pod's own task (podshim's infra), asked of the
        pod's shim itself (in shim mode containerd has no task for it):
        (type URL, the parsed cgroups v1 or v2 Metrics)."""
        import importlib

        import ttrpc_client

        protos = ttrpc_client.load_protos()
        with ttrpc_client.Client(self.env.socket(pod.id, self.handler), timeout=10,
                                 service=self.env.endpoint(pod.id).service) as c:
            r = c.call("Stats", protos.task.StatsRequest(id=pod.id))
        assert r.code == ttrpc_client.OK, r
        any_ = r.decode(protos.task.StatsResponse).stats
        kind = {"io.containerd.cgroups.v1.Metrics": "v1",
                "io.containerd.cgroups.v2.Metrics": "v2"}.get(any_.type_url)
        assert kind, any_.type_url
        metrics = importlib.import_module("cgroups.%s.metrics_pb2" % kind).Metrics()
        metrics.ParseFromString(any_.value)
        return any_.type_url, metrics

    def pause_processes(self, pod, shim_pids):
        """Live processes running the pause image's argv that belong to the
        pod: the sandbox pid itself, descendants of its shim, or members of
        a cgroup named after the pod."""
        mine = set([pod.pid])
        for s in shim_pids:
            mine.update(host.descendants(s))
        found = []
        for p in host.pids_with_argv(images.PAUSE_ARGV):
            try:
                in_cgroup = any(pod.id in path for path in host.proc_cgroups(p).values())
            except OSError:
                continue
            if p in mine or in_cgroup:
                found.append(p)
        return found

    def snapshot(self, pod):
        """Record what must disappear with the pod (call while it runs)."""
        cpids = [self.container_pid(c) for c in pod.containers]
        return Remains(pod, self.pod_shims(pod), cpids, self.env.socket(pod.id, self.handler))

    def leftovers(self, rem, timeout=10):
        """What of a removed pod is still there (empty list when clean)."""
        deadline = time.monotonic() + timeout
        while True:
            left = self._leftovers_now(rem)
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if left and self._reference_leaked_shim(rem, left):
            left = self._leftovers_now(rem)
        return left

    def _reference_leaked_shim(self, rem, left):
        """The reference's known pod shim leak under containerd 2.x
        (harness.leaks_pod_shim): when the shim and its socket are all that
        is left and the shim serves none of the pod's tasks any more, it is
        killed and its socket removed here, with a warning; True then.
        Never for podshim."""
        from cri import env as cri_env

        why = harness.leaks_pod_shim(cri_env.HANDLERS[self.handler], self.env.cd.dist)
        if not why or not all(x.startswith(("shim processes", "shim socket")) for x in left):
            return False
        import ttrpc_client

        service = harness.TASK_V3 if self.env.cd.dist.v2 else harness.TASK_V2
        with ttrpc_client.Client(rem.socket, timeout=10, service=service) as c:
            for tid in rem.pod.ids:
                r = c.state(tid)
                assert r.code == ttrpc_client.NOT_FOUND, (
                    "leaked shim still serves %s: %r" % (tid, r))
        pids = sorted(set([p for p in rem.shim_pids if host.alive(p)]
                          + self.env.all_shims(rem.pod.id)))
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        harness.wait_until(lambda: not any(host.alive(p) for p in pids), 10,
                           what="leaked shims %s to die" % pids)
        if os.path.exists(rem.socket):
            os.unlink(rem.socket)
        warnings.warn("pod %s: %s shim %s left running (killed): %s"
                      % (rem.pod.id, self.handler, pids, why))
        return True

    def _leftovers_now(self, rem):
        pod = rem.pod
        left = []
        code = self.cri.code_of("PodSandboxStatus", self.pb.PodSandboxStatusRequest(
            pod_sandbox_id=pod.id))
        if code != "NOT_FOUND":
            left.append("PodSandboxStatus answers %s" % code)
        shims = [p for p in rem.shim_pids if host.alive(p) and host.is_shim(p)] + \
            self.env.all_shims(pod.id)
        if shims:
            left.append("shim processes %s" % sorted(set(shims)))
        live = [p for p in rem.pids if host.alive(p)]
        if live:
            left.append("pod processes %s" % live)
        if os.path.exists(rem.socket):
            left.append("shim socket %s" % rem.socket)
        mounts = self.env.mounts_of(pod.ids)
        if mounts:
            left.append("mounts %s" % mounts)
        cgroups = host.cgroup_dirs_matching(pod.ids)
        if cgroups:
            left.append("cgroups %s" % cgroups)
        if rem.netns and os.path.exists(rem.netns):
            left.append("netns %s" % rem.netns)
        for i in pod.ids:
            if os.path.exists(self.env.bundle(i)):
                left.append("bundle %s" % self.env.bundle(i))
        return left

    # ------------------------------------------------------------ cleanup

    def remove(self, pod):
        self.cri.stop_pod(pod.id)
        self.cri.remove_pod(pod.id)
        self.pods.remove(pod)

    def cleanup(self):
        """Stop and remove whatever pods a test left; return errors."""
        errors = []
        for pod in list(self.pods):
            for step in (self.cri.stop_pod, self.cri.remove_pod):
                try:
                    step(pod.id)
                except Exception as e:  # noqa: BLE001 - collect, report once
                    errors.append("%s %s: %s" % (step.__name__, pod.id, e))
        self.pods.clear()
        return errors


@contextlib.contextmanager
def factory_for_test(env, handler):
    """A PodFactory for one test (a fixture's body): its pods are removed
    afterwards, and the CRI containerd's log and the last events of the
    test are printed on teardown, which pytest shows only when the test
    failed. A failed cleanup fails the test."""
    offset = env.log_size()
    factory = PodFactory(env, handler)
    yield factory
    errors = factory.cleanup()
    text = env.log_since(offset)
    print("---- CRI containerd log during this test ----\n"
          + (text if len(text) < 30000 else "...\n" + text[-30000:]))
    print("---- k8s.io events (last 40) ----\n" + "\n".join(env.events.raw[-40:]))
    assert not errors, "pod cleanup failed: %s" % errors


class Churn:
    """n pods of `containers` containers each, made and removed `workers`
    at a time by one factory (each pod's containers checked running), and
    then what of all of them is left: shim processes, sockets, mounts,
    cgroups, bundles, plus what `extra()` (a list of strings) reports."""

    def __init__(self, factory, n, containers, workers):
        from concurrent.futures import ThreadPoolExecutor

        self.factory, self.env = factory, factory.env
        self.before = set(self.env.all_shims())
        t0 = time.monotonic()
        with ThreadPoolExecutor(workers) as pool:
            done = list(pool.map(lambda i: self._one(i, containers), range(n)))
        self.seconds = time.monotonic() - t0
        self.ids = [i for pod_ids, _ in done for i in pod_ids]
        self.pod_ids = [pod_ids[0] for pod_ids, _ in done]
        self.shims_per_pod = [[pid for pid, _ in procs] for _, procs in done]
        self.seen_shims = set(s for shims in self.shims_per_pod for s in shims)
        # distinct shim processes: pid_max is 32768 here and a churn wraps
        # it, so two pods' shims may have had the same pid at different times
        self.shim_processes = set(p for _, procs in done for p in procs)

    def _one(self, i, containers):
        pod = self.factory.run(containers=containers)
        for cid in pod.containers:
            assert self.factory.cri.container_state(cid) == "CONTAINER_RUNNING", (i, cid)
        procs = [(pid, host.start_time(pid)) for pid in self.factory.pod_shims(pod)]
        self.factory.remove(pod)
        return pod.ids, procs

    def _left_now(self, extra):
        env, out = self.env, []
        shims = [p for p in self.seen_shims if host.alive(p) and host.is_shim(p)] + \
            sorted(set(env.all_shims()) - self.before)
        if shims:
            out.append("shim processes %s" % shims)
        socks = [env.socket(p) for p in self.pod_ids if os.path.exists(env.socket(p))]
        if socks:
            out.append("%d sockets, e.g. %s" % (len(socks), socks[:3]))
        mounts = env.mounts_of(self.ids)
        if mounts:
            out.append("%d mounts, e.g. %s" % (len(mounts), mounts[:3]))
        cgroups = host.cgroup_dirs_matching(self.ids)
        if cgroups:
            out.append("%d cgroups, e.g. %s" % (len(cgroups), cgroups[:3]))
        bundles = [env.bundle(i) for i in self.ids if os.path.exists(env.bundle(i))]
        if bundles:
            out.append("%d bundles, e.g. %s" % (len(bundles), bundles[:3]))
        return out + (extra() if extra else [])

    def leftovers(self, extra=None, timeout=10):
        """What is left (an empty list when clean), waited for up to
        `timeout` seconds for the last teardowns to finish."""
        deadline = time.monotonic() + timeout
        problems = self._left_now(extra)
        while problems and time.monotonic() < deadline:
            time.sleep(0.2)
            problems = self._left_now(extra)
        return problems
