"""A private CRI-enabled containerd for the pod tests.

One daemon (harness.Containerd with the CRI plugin on) serves every runtime
handler under test:

  runc          io.containerd.runc.v2   containerd's own shim: the reference
  podshim       io.containerd.podshim.v2 (options.ConfigPath -> our config file
                on 1.6; from 1.7 on options.BinaryName inline: config_body)
  runc-crun     io.containerd.runc.v2 with options.BinaryName = "crun"
  podshim-crun  io.containerd.podshim.v2, a second config file naming crun
  podshim-sb    (containerd 2.x only) io.containerd.podshim.v2 as the pod's
                sandboxer: the shipped deploy/containerd-v3-sandboxer.toml
                appended verbatim (`sandboxer = 'shim'`), no pause container,
                the pod made through the shim's Sandbox API. No options table:
                2.1 turns a sandboxed task's options into runc Options and
                fails StartContainer on any other type (client/task.go
                getRuncOptions), so the shim runs on its defaults (runc)
  podshim-noopts io.containerd.podshim.v2 without an options table
  podshim-vm    io.containerd.podshim.v2 with a config file saying Backend = "vm"
                (docs/vm-backend.md): each pod is a QEMU VM; its kernel and
                initramfs from scripts/vm-initramfs.sh, the agent the
                podshim-agent beside the shim, the accelerator
                PODSHIM_VM_ACCEL (default tcg); always through ConfigPath
  podshim-vm-type io.containerd.podshim-vm.v2 without options: VM pods by
                the shim's name alone (src/shim/profile.h), the VM settings
                from the podshim-vm config file, which the daemon's
                environment names as PODSHIM_VM_CONFIG (the shims inherit it)
  podshim-vm-sb (containerd 2.x only) io.containerd.podshim-vm.v2 as the
                pod's sandboxer: the shipped deploy/containerd-v3-vm.toml
                appended with its handler renamed from podshim-vm

The crun pair is for bench/: with runc, `runc exec` is most of an exec for
either shim. The pod tests use runc and podshim (under 2.x podshim-sb too),
and podshim-noopts where containerd 2.1 needs a podsandbox handler without
options: it starts a container of a user-namespace pod with
containerd.runc.v1.Options carrying the io uid/gid, made from the handler's
options, and a runtimeoptions.v1.Options there (any options table of a
non-runc runtime type) fails that container's start in containerd's client
before the shim is asked ("failed to get runtime v2 options"; containerd
issue 11091's change).

The CRI plugin gets an offline sandbox image (images.PAUSE_NAME) and the
busybox image, both imported into namespace k8s.io before any pod runs, so
CRI never pulls. Pod networking is a CNI bridge from Debian's
containernetworking-plugins on a bridge and a private subnet that belong to
this run alone: no gateway address, no masquerading, no forwarding sysctl,
host-local leases in our temp dir. teardown() removes the pods, the bridge,
the pods' cgroup parents and the temp dir, and reports anything that
outlived them.
"""

import ipaddress
import json
import os
import shutil
import signal
import time

import harness
import ociimage

from cri import client as cri_client
from cri import host
from cri import images

NAMESPACE = "k8s.io"
CNI_BIN_DIR = "/usr/lib/cni"  # dpkg -L containernetworking-plugins
HANDLERS = {"runc": "io.containerd.runc.v2", "podshim": "io.containerd.podshim.v2",
            "runc-crun": "io.containerd.runc.v2", "podshim-crun": "io.containerd.podshim.v2",
            "podshim-noopts": "io.containerd.podshim.v2", "podshim-vm": "io.containerd.podshim.v2",
            "podshim-vm-type": "io.containerd.podshim-vm.v2"}
# handlers only a 2.x containerd has (1.x has no sandboxer key)
HANDLERS_V2 = {"podshim-sb": "io.containerd.podshim.v2",
               "podshim-vm-sb": "io.containerd.podshim-vm.v2"}
# the handlers whose sandboxer is the shim itself (containerd's "shim" mode)
SHIM_SANDBOXER = ("podshim-sb", "podshim-vm-sb")
# the OCI runtime each handler's shim runs (podshim-noopts and podshim-sb:
# their default, runc)
OCI_BINARY = {"runc": "runc", "podshim": "runc", "runc-crun": "crun", "podshim-crun": "crun",
              "podshim-noopts": "runc", "podshim-sb": "runc", "podshim-vm": "runc",
              "podshim-vm-type": "runc", "podshim-vm-sb": "runc"}
# where containerd 2.x keeps a shim-mode pod's bundle (the sandbox controller's
# state dir: plugins/sandbox/controller.go, core/runtime/v2/bundle.go)
SANDBOX_STATE = "io.containerd.sandbox.controller.v1.shim"
CRI = '"io.containerd.grpc.v1.cri"'  # 1.6 and 1.7 (config version 2)
DEPLOY_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))), "deploy")
# the podshim config file the shipped "podshim" snippets name, and the example config
DEPLOY_CONFIG_PATH = "/etc/podshim/config.toml"
DEPLOY_PODSHIM_CONFIG = os.path.join(DEPLOY_DIR, "podshim.toml")
# 2.x's shim-sandboxer handler podshim-sb, beside containerd-v3.toml's podshim
DEPLOY_SANDBOXER_SNIPPET = os.path.join(DEPLOY_DIR, "containerd-v3-sandboxer.toml")
# 2.x's VM handler podshim-vm with the shim sandboxer (renamed podshim-vm-sb here)
DEPLOY_VM_SNIPPET = os.path.join(DEPLOY_DIR, "containerd-v3-vm.toml")
# libcni keeps its result cache here (not configurable through CRI 1.6);
# entries go away on CNI DEL, the directories stay unless we remove them
CNI_CACHE_DIR = "/var/lib/cni"


def deploy_snippet_file(dist_, other=False):
    """The shipped CRI handler snippet for dist_'s config format:
    deploy/containerd-v3.toml for 2.x (config version 3), containerd-v2.toml
    for 1.6 and 1.7 (version 2); with other=True the one for the other
    format."""
    v3 = dist_.v2 != other
    return os.path.join(DEPLOY_DIR, "containerd-v3.toml" if v3 else "containerd-v2.toml")


def deploy_snippet(path, config_path):
    """The text of the snippet file `path` with only the podshim config path
    substituted (an operator's /etc/podshim/config.toml is our temp file)."""
    with open(path) as f:
        text = f.read()
    n = text.count(DEPLOY_CONFIG_PATH)
    assert n == 1, "%s names %s %d times, expected once" % (path, DEPLOY_CONFIG_PATH, n)
    return "\n" + text.replace(DEPLOY_CONFIG_PATH, config_path)


def deploy_sandboxer_snippet(path=DEPLOY_SANDBOXER_SNIPPET):
    """The text of the shim-sandboxer snippet, verbatim: its handler has no
    options table, so it names no podshim config file to substitute."""
    with open(path) as f:
        text = f.read()
    assert DEPLOY_CONFIG_PATH not in text, "%s names %s" % (path, DEPLOY_CONFIG_PATH)
    return "\n" + text


def deploy_vm_snippet(path=DEPLOY_VM_SNIPPET, name="podshim-vm-sb"):
    """The text of the VM sandboxer snippet with its handler renamed (this
    environment's podshim-vm is the ConfigPath handler)."""
    with open(path) as f:
        text = f.read()
    table = ".containerd.runtimes.podshim-vm]"
    assert text.count(table) == 1, "%s: %s not once" % (path, table)
    return "\n" + text.replace(table, ".containerd.runtimes.%s]" % name)


class CriEnv:
    def __init__(self, bin_dir, asan_log_dir=None, bridge=None, subnet=None,
                 bootstrap_version=None):
        # the containerd build is harness.dist() (PODSHIM_CONTAINERD)
        self.cd = harness.Containerd(bin_dir, cri=True, asan_log_dir=asan_log_dir)
        # podshim's bootstrap version (src/shim/bootstrap.h): 3 is its
        # grouped mode under containerd 2.x, switched on through the shim
        # manager's env; PODSHIM_E2E_BOOTSTRAP_VERSION picks it for a run
        self.bootstrap_version = int(bootstrap_version or
                                     os.environ.get("PODSHIM_E2E_BOOTSTRAP_VERSION") or 2)
        if self.bootstrap_version >= 3 and not self.cd.dist.v2:
            raise AssertionError("bootstrap version %d needs containerd 2.x, not %s (1.x has no "
                                 "shim manager env and rejects version 3)"
                                 % (self.bootstrap_version, self.cd.dist))
        self.dir = self.cd.dir
        # per run: concurrent sessions on this host must not share a bridge
        # (the subnet may repeat: bridges are separate L2 segments and the
        # host routes to none of them)
        self.bridge = bridge or os.environ.get("PODSHIM_CRI_BRIDGE",
                                               "psbr%d" % (os.getpid() % 10**7))
        # an explicit subnet must be free; the default is the first of
        # 10.88.77-126.0/24 no host route overlaps when the run starts (a
        # concurrent run's bridge with a gateway address routes its own)
        self.subnet_explicit = bool(subnet or os.environ.get("PODSHIM_CRI_SUBNET"))
        self.subnet = ipaddress.ip_network(
            subnet or os.environ.get("PODSHIM_CRI_SUBNET", "10.88.77.0/24"))
        self.cni_conf_dir = os.path.join(self.dir, "cni", "net.d")
        self.ipam_dir = os.path.join(self.dir, "cni", "ipam")
        self.podshim_config = os.path.join(self.dir, "podshim-cri.toml")
        # podshim reads BinaryName from its config file, one file per handler;
        # the "podshim" handler is the shipped deploy/ snippet for this
        # version's config format (see config_toml), its config file a copy
        # of deploy/podshim.toml
        self.snippet_file = deploy_snippet_file(self.cd.dist)
        self.podshim_configs = {"podshim": self.podshim_config,
                                "podshim-crun": os.path.join(self.dir, "podshim-cri-crun.toml"),
                                "podshim-vm": os.path.join(self.dir, "podshim-cri-vm.toml")}
        # every pod's cgroup_parent lives below this, so teardown finds them all
        self.cgroup_root = "pse2e-%d" % os.getpid()
        self.handlers = dict(HANDLERS, **(HANDLERS_V2 if self.cd.dist.v2 else {}))
        # the handlers whose tables are shipped deploy/ snippets (config_toml)
        self.snippets = {"podshim": self.snippet_file}
        if self.cd.dist.v2:
            self.snippets["podshim-sb"] = DEPLOY_SANDBOXER_SNIPPET
            self.snippets["podshim-vm-sb"] = DEPLOY_VM_SNIPPET
        self.cd.extra_config = self.config_toml()
        # the VM runtime type's system config (PS_VM_CONFIG_ENV): the
        # podshim-vm handler's file, so that both ways name the same VM
        self.cd.extra_env["PODSHIM_VM_CONFIG"] = self.podshim_configs["podshim-vm"]
        self.ctr = self.cd.ctr(NAMESPACE)
        self.cri = None
        self.events = None
        self.had_cni_cache = os.path.exists(CNI_CACHE_DIR)
        self.busybox = ociimage.DEFAULT_NAME
        self.pause = images.PAUSE_NAME

    # ------------------------------------------------------------- config

    def config_toml(self):
        """The CRI tables, in the layout of the daemon's version: 1.6/1.7
        read one plugin, io.containerd.grpc.v1.cri (config version 2); 2.x
        splits it into io.containerd.cri.v1.images (sandbox image),
        io.containerd.cri.v1.runtime (handlers, CNI, security knobs) and
        io.containerd.grpc.v1.cri (the server: streaming). A 1.x table in a
        version 3 file is not migrated but ignored, handlers included."""
        v3 = self.cd.dist.v2
        q = harness.toml_str if v3 else (lambda v: '"%s"' % v)
        if v3:
            image_svc = "[plugins.'io.containerd.cri.v1.images'"
            runtime = "[plugins.'io.containerd.cri.v1.runtime'"
            server = "[plugins.'io.containerd.grpc.v1.cri'"
            lines = ["", "%s.pinned_images]" % image_svc,
                     "  sandbox = %s" % q(images.PAUSE_NAME)]
        else:
            runtime = server = "[plugins.%s" % CRI
            lines = ["", "%s]" % runtime, "  sandbox_image = %s" % q(images.PAUSE_NAME)]
        if v3:
            lines += ["", "%s]" % runtime]
        lines += [
            "  disable_apparmor = true",
            "  enable_selinux = false",
            # this VM cannot lower oom_score_adj below our own (-998 for pods)
            "  restrict_oom_score_adj = true",
            # netns bind mounts under our state dir, not /var/run/netns
            "  netns_mounts_under_state_dir = true",
        ]
        if v3:
            lines += ["", "%s]" % server]
        lines += [
            "  stream_server_address = %s" % q("127.0.0.1"),
            "  stream_server_port = %s" % q("0"),
            "",
            "%s.cni]" % runtime,
            # 2.x deprecates bin_dir for the list bin_dirs
            ("  bin_dirs = [%s]" if v3 else "  bin_dir = %s") % q(CNI_BIN_DIR),
            "  conf_dir = %s" % q(self.cni_conf_dir),
            "  max_conf_num = 1",
            "",
        ]
        for h in self.handlers:
            if h not in self.snippets:
                lines += self._runtime_toml(runtime, h, q)
        if self.bootstrap_version != 2:
            # every shim this containerd starts gets it; runc-v2 ignores it
            lines += ["[plugins.'io.containerd.shim.v1.manager']",
                      "  env = [%s]" % q("PODSHIM_BOOTSTRAP_VERSION=%d" % self.bootstrap_version),
                      ""]
        # the podshim handlers exactly as README tells an operator to add
        # them: the shipped snippets appended to the config file, the
        # "podshim" one last
        text = "\n".join(lines)
        if "podshim-sb" in self.snippets:
            text += deploy_sandboxer_snippet(self.snippets["podshim-sb"])
        if "podshim-vm-sb" in self.snippets:
            text += deploy_vm_snippet(self.snippets["podshim-vm-sb"])
        return text + deploy_snippet(self.snippet_file, self.podshim_config)

    def podshim_inline(self):
        """From containerd 1.7 on, podshim's handlers carry their options
        table inline (no ConfigPath): CRI then sends the table itself as
        runtimeoptions' config_body, which 1.6 cannot."""
        return self.cd.dist.version >= (1, 7)

    @staticmethod
    def deploy_binary_name():
        """BinaryName in deploy/podshim.toml, the config of the "podshim"
        handler (the shipped snippet's ConfigPath)."""
        with open(DEPLOY_PODSHIM_CONFIG) as f:
            for line in f:
                key, _, value = line.partition("=")
                if key.strip() == "BinaryName":
                    return value.strip().strip("\"'")
        return "runc"

    def podshim_binary(self, handler):
        """The OCI runtime a podshim handler names: an absolute path in the
        inline table (so a test can tell the table was applied), the bare
        name in the config file."""
        name = OCI_BINARY[handler]
        if handler == "podshim":
            return self.deploy_binary_name()
        if not self.podshim_inline():
            return name
        found = shutil.which(name, path=self.cd.env()["PATH"])
        assert found, "%s is not on containerd's PATH" % name
        return found

    def _runtime_toml(self, p, handler, q):
        """The CRI runtimes table of one handler: runc.v2 takes BinaryName in
        its options, podshim a ConfigPath to a file naming the binary (1.6)
        or that BinaryName inline (1.7+, podshim_inline)."""
        table = "%s.containerd.runtimes.%s" % (p, handler)
        lines = ["%s]" % table, "  runtime_type = %s" % q(self.handlers[handler]), ""]
        if handler in self.podshim_configs and self.podshim_inline() and handler != "podshim-vm":
            opt = "BinaryName = %s" % q(self.podshim_binary(handler))
        elif handler in self.podshim_configs:
            opt = "ConfigPath = %s" % q(self.podshim_configs[handler])
        elif OCI_BINARY[handler] != "runc":
            opt = "BinaryName = %s" % q(OCI_BINARY[handler])
        else:
            return lines
        return lines + ["%s.options]" % table, "  " + opt, ""]

    def cni_conflist(self):
        return {
            "cniVersion": "0.4.0",
            "name": "podshim-e2e",
            "plugins": [{
                "type": "bridge",
                "bridge": self.bridge,
                # no gateway: the plugin then neither addresses the bridge
                # nor turns on ip_forward; pods only need their own address
                "isGateway": False,
                "ipMasq": False,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": str(self.subnet)}]],
                    "dataDir": self.ipam_dir,
                },
            }],
        }

    def _write_files(self):
        os.makedirs(self.cni_conf_dir, exist_ok=True)
        os.makedirs(self.ipam_dir, exist_ok=True)
        with open(os.path.join(self.cni_conf_dir, "10-podshim-e2e.conflist"), "w") as f:
            json.dump(self.cni_conflist(), f, indent=2)
        for handler, path in self.podshim_configs.items():
            if handler == "podshim":
                shutil.copyfile(DEPLOY_PODSHIM_CONFIG, path)
                continue
            with open(path, "w") as f:
                f.write("# written by tests/e2e/cri/env.py\nBinaryName = \"%s\"\n"
                        % OCI_BINARY[handler])
                if handler == "podshim-vm":
                    f.write(self.vm_config())

    def vm_config(self):
        """The podshim-vm handler's VM settings (docs/vm-backend.md). Where
        no guest can be built (no kernel in /boot, no busybox-static) the
        handler has none, and its pods fail to start saying so: only the vm
        tests use it."""
        image, why = harness.vm_image(self.cd.bin_dir)
        if not image:
            return "# no VM: %s\n" % why.replace("\n", " ")
        return 'Backend = "vm"\n' + harness.vm_settings(self.cd.bin_dir, image)

    # ------------------------------------------------------------ network

    def bridge_exists(self):
        return harness.run(["ip", "link", "show", "dev", self.bridge], timeout=10,
                           check=False).returncode == 0

    def _check_network_free(self):
        """Our bridge name and subnet must not be anyone else's."""
        if self.bridge_exists():
            # a dead run with our pid left it; with nothing attached it
            # carries no traffic and no address (isGateway false)
            ports = harness.run(["ip", "-o", "link", "show", "master", self.bridge],
                                timeout=10).stdout.strip()
            if ports:
                raise AssertionError("bridge %s exists and is in use (%s); set "
                                     "PODSHIM_CRI_BRIDGE" % (self.bridge, ports))
            harness.run(["ip", "link", "del", "dev", self.bridge], timeout=10)
        routes = []
        for line in harness.run(["ip", "-4", "route", "show"], timeout=10).stdout.splitlines():
            dst = line.split()[0]
            if dst == "default":
                continue
            try:
                routes.append((ipaddress.ip_network(dst, strict=False), line))
            except ValueError:
                continue
        candidates = [self.subnet] if self.subnet_explicit else [
            ipaddress.ip_network("10.88.%d.0/24" % i) for i in range(77, 127)]
        for subnet in candidates:
            taken = [line for net, line in routes if net.overlaps(subnet)]
            if not taken:
                self.subnet = subnet
                return
        raise AssertionError("subnet %s overlaps host route %r; set PODSHIM_CRI_SUBNET"
                             % (candidates[-1], taken[0]))

    # ----------------------------------------------------------- lifecycle

    def start(self):
        self._check_network_free()
        self._write_files()
        self.cd.start()
        bb = os.path.join(self.dir, "busybox-oci.tar")
        pause = os.path.join(self.dir, "pause-oci.tar")
        ociimage.build_archive(bb)
        images.build_pause_archive(pause)
        for tar in (bb, pause):
            self.ctr("images", "import", "--all-platforms", tar, timeout=120)
        self.cri = cri_client.CriClient(self.cd.address)
        v = self.cri.version()
        assert (v.runtime_name, v.runtime_api_version) == ("containerd", "v1"), v
        self._subscribe_events()
        # CRI learns of imported images from /images/ events; wait for both,
        # and for the CNI config to be loaded
        harness.wait_until(lambda: all(self.cri.image_present(i)
                                       for i in (self.busybox, self.pause)),
                           20, 0.1, "CRI to see the imported images")
        harness.wait_until(lambda: all(self.cri.conditions().get(c)
                                       for c in ("RuntimeReady", "NetworkReady")),
                           20, 0.1, "CRI RuntimeReady and NetworkReady")
        self._check_handlers()

    def restart(self, crash=True):
        """containerd goes away while pods run (SIGKILL, as a crash or an
        OOM kill; else SIGTERM, as systemd stops it) and comes back on the
        same config, root and state: it reloads every task's bundle
        (bootstrap.json on 2.x, `address` on 1.x), reconnects to the shims
        and CRI recovers its pods. The event stream is subscribed again."""
        if self.events is not None:
            self.events.close()
        if crash:
            self.cd.kill()
        else:
            self.cd.stop()
        self.cd.restart()
        # a new channel, as kubelet's client redials: the old one may hand
        # its first call to the dead daemon's connection (UNAVAILABLE)
        self.cri.close()
        self.cri = cri_client.CriClient(self.cd.address)
        self._subscribe_events()
        harness.wait_until(lambda: all(self.cri.conditions().get(c)
                                       for c in ("RuntimeReady", "NetworkReady")),
                           20, 0.1, "CRI RuntimeReady and NetworkReady after the restart")

    def _check_handlers(self):
        """Every handler of config_toml() is in the config CRI runs with: a
        table under a plugin name this version does not read is dropped
        without a word (a 1.x table in a 2.x file), and RunPodSandbox then
        fails with "no runtime for handler"."""
        config = json.loads(self.cri.status_info()["config"])
        runtimes = config.get("containerd", {}).get("runtimes", {})
        got = {h: runtimes.get(h, {}).get("runtimeType") for h in self.handlers}
        want = dict(self.handlers)
        for h in SHIM_SANDBOXER:
            if h in self.handlers:
                got[h] = (got[h], runtimes.get(h, {}).get("sandboxer"))
                want[h] = (want[h], "shim")
        assert got == want, ("CRI of %s runs with handlers %s, the config file asked for %s"
                             % (self.cd.dist, got, want))

    def _subscribe_events(self):
        """`ctr events` on k8s.io, proven live by a namespace label change."""
        self.events = harness.EventCollector(self.ctr)
        time.sleep(0.2)
        self.ctr("namespaces", "label", NAMESPACE, "podshim-e2e=1")
        self.events.wait_for(lambda evs: any(e.topic.startswith("/namespace") for e in evs),
                             10, what="namespace update event (is `ctr events` subscribed?)")

    def remove_all_pods(self):
        """Best effort: stop and remove every pod CRI knows."""
        errors = []
        if self.cri is None:
            return errors
        try:
            pods = self.cri.list_pods()
        except Exception as e:  # noqa: BLE001 - teardown collects everything
            return ["ListPodSandbox: %s" % e]
        for pod in pods:
            for step in (self.cri.stop_pod, self.cri.remove_pod):
                try:
                    step(pod.id)
                except Exception as e:  # noqa: BLE001
                    errors.append("%s %s: %s" % (step.__name__, pod.id, e))
        return errors

    def teardown(self):
        """Stop everything; return a list of problems (empty when clean)."""
        problems = []
        problems += ["pod cleanup: " + e for e in self.remove_all_pods()]
        if self.cd.proc is not None and self.cd.proc.poll() is None:
            self.ctr.cleanup_namespace()
        lingering = []
        try:
            harness.wait_until(lambda: not self.all_shims(), 5)
        except AssertionError:
            lingering = self.all_shims()
        for pid in lingering:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if lingering:
            problems.append("shim processes outlived all pods: %s" % lingering)
        if self.events is not None:
            self.events.close()
        if self.cri is not None:
            self.cri.close()
        self.cd.stop()
        left = self.cd.unmount_leftovers()
        if left:
            problems.append("mounts left below %s: %s" % (self.dir, left))
        if self.bridge_exists():
            harness.run(["ip", "link", "del", "dev", self.bridge], timeout=10, check=False)
        if not self.had_cni_cache:
            self._remove_empty_tree(CNI_CACHE_DIR)
        stuck = host.remove_cgroup_tree(self.cgroup_root)
        if stuck:
            problems.append("cgroups that could not be removed: %s" % stuck)
        try:
            os.rmdir(os.path.join("/run/containerd/runc", NAMESPACE))
        except OSError:
            pass
        if os.environ.get("PODSHIM_E2E_KEEP"):
            print("\nkept %s" % self.dir)
        else:
            self.cd.remove()
        return problems

    @staticmethod
    def _remove_empty_tree(top):
        """rmdir top and its empty subdirectories; keeps anything with files."""
        for root, dirs, _ in os.walk(top, topdown=False):
            for d in dirs:
                try:
                    os.rmdir(os.path.join(root, d))
                except OSError:
                    pass
        try:
            os.rmdir(top)
        except OSError:
            pass

    # ------------------------------------------------------------- queries

    def log_size(self):
        return self.cd.log_size()

    def log_since(self, offset):
        return self.cd.log_since(offset)

    def shim_binary(self, handler):
        return harness.SHIM_BINARIES[self.handlers[handler]]

    def _ours(self, pids):
        # k8s.io is every CRI's namespace: tell our daemon's shims apart from
        # those of a concurrent session by their -address
        return sorted(p for p in pids
                      if harness._flag(host.cmdline(p), "address") == self.cd.address)

    def shims(self, handler, task_id=None):
        return self._ours(harness.shim_processes(self.shim_binary(handler), NAMESPACE,
                                                 task_id))

    def all_shims(self, task_id=None):
        return self._ours(p for b in harness.SHIM_BINARIES.values()
                          for p in harness.shim_processes(b, NAMESPACE, task_id))

    def socket(self, group_key, handler=None):
        """The pod's shim socket; a handler of the VM runtime type salts it."""
        return harness.socket_path(self.cd.address, NAMESPACE, group_key,
                                   self.handlers.get(handler))

    def bundle(self, task_id):
        """A task's bundle, or a shim-mode pod's (which is no task)."""
        task = os.path.join(self.cd.state, "io.containerd.runtime.v2.task", NAMESPACE, task_id)
        pod = self.sandbox_bundle(task_id)
        return pod if not os.path.exists(task) and os.path.exists(pod) else task

    def sandbox_bundle(self, pod_id):
        return os.path.join(self.cd.state, SANDBOX_STATE, NAMESPACE, pod_id)

    def endpoint(self, task_id):
        """How containerd reaches the shim of task_id (harness.ShimEndpoint)."""
        return harness.ShimEndpoint(self.bundle(task_id))

    def mounts_of(self, ids):
        found = []
        # a VM pod's bundle share holds binds of its members' bundles
        # (src/sandbox/vm/share.h), named by their ids
        for d in (self.cd.root, self.cd.state, "/run/podshim/vm"):
            for i in ids:
                found += harness.mounts_under(d, contains=i)
        return sorted(set(found))
