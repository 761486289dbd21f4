"""Host-side views of pods: namespaces, credentials, sockets, cgroups."""

import os

CGROUP_ROOT = "/sys/fs/cgroup"
SO_ACCEPTCON = 0x10000  # /proc/net/unix "Flags" bit of a listening socket


def ns_links(pid, kinds=("ipc", "uts", "net", "pid")):
    """{kind: 'ipc:[4026531839]'} for a live pid."""
    return {k: os.readlink("/proc/%d/ns/%s" % (pid, k)) for k in kinds}


def status(pid):
    """/proc/<pid>/status as {field: value string}."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def is_shim(pid):
    """True while pid runs a containerd shim binary. pid_max is 32768 on
    these hosts: after a churn of thousands of processes a pid seen as a
    shim may already belong to something else."""
    argv = cmdline(pid)
    return bool(argv) and os.path.basename(argv[0]).startswith("containerd-shim")


def start_time(pid):
    """The process's start time (clock ticks after boot, /proc/PID/stat
    field 22), or None when it is gone: with the pid, it names one process
    even after pid_max wrapped and the pid was given out again."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def alive(pid):
    """True for a live, non-zombie pid."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def pids_with_argv(argv):
    return [p for p in all_pids() if cmdline(p) == list(argv) and alive(p)]


def children_map():
    kids = {}
    for p in all_pids():
        try:
            ppid = int(status(p)["PPid"])
        except (OSError, KeyError, ValueError):
            continue
        kids.setdefault(ppid, []).append(p)
    return kids


def descendants(pid):
    kids = children_map()
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def listening_socket_pids(path):
    """Pids holding a listening unix socket bound to path (host netns)."""
    inodes = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            if len(fields) >= 8 and fields[7] == path and int(fields[3], 16) & SO_ACCEPTCON:
                inodes.add("socket:[%s]" % fields[6])
    owners = set()
    if not inodes:
        return owners
    for p in all_pids():
        fd_dir = "/proc/%d/fd" % p
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(os.path.join(fd_dir, fd)) in inodes:
                    owners.add(p)
                    break
            except OSError:
                continue
    return owners


def cgroup_hierarchies():
    """Distinct mounted cgroup hierarchies below /sys/fs/cgroup (v1 and v2)."""
    seen, out = set(), []
    for name in sorted(os.listdir(CGROUP_ROOT)):
        path = os.path.join(CGROUP_ROOT, name)
        real = os.path.realpath(path)
        if os.path.isdir(real) and real not in seen and os.path.exists(
                os.path.join(real, "cgroup.procs")):
            seen.add(real)
            out.append(real)
    if not out and os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.procs")):
        out.append(CGROUP_ROOT)  # pure cgroup v2
    return out


def cgroup_dirs_matching(needles, below=""):
    """Cgroup directories (any hierarchy, below the relative path `below`)
    whose name contains one of needles."""
    found = []
    for h in cgroup_hierarchies():
        top = os.path.join(h, below.strip("/")) if below else h
        for root, dirs, _ in os.walk(top):
            for d in dirs:
                if any(n in d for n in needles):
                    found.append(os.path.join(root, d))
    return found


def make_cgroup_path(rel):
    """mkdir -p rel (relative to each hierarchy), as kubelet makes a pod's
    cgroup before RunPodSandbox: v1 cpuset directories get their parent's
    cpus and mems (a new one starts empty and takes no process)."""
    for h in cgroup_hierarchies():
        cpuset = os.path.exists(os.path.join(h, "cpuset.cpus")) and h != CGROUP_ROOT
        path = h
        for comp in rel.strip("/").split("/"):
            parent, path = path, os.path.join(path, comp)
            try:
                os.mkdir(path)
            except FileExistsError:
                continue
            if cpuset:
                for f in ("cpuset.cpus", "cpuset.mems"):
                    with open(os.path.join(parent, f)) as src:
                        value = src.read().strip()
                    with open(os.path.join(path, f), "w") as dst:
                        dst.write(value)


def remove_cgroup_tree(rel):
    """rmdir rel (relative to each hierarchy) bottom-up; returns what stayed."""
    left = []
    for h in cgroup_hierarchies():
        top = os.path.join(h, rel.strip("/"))
        if not os.path.isdir(top):
            continue
        for root, dirs, _ in os.walk(top, topdown=False):
            for d in dirs:
                try:
                    os.rmdir(os.path.join(root, d))
                except OSError:
                    left.append(os.path.join(root, d))
        try:
            os.rmdir(top)
        except OSError:
            left.append(top)
    return left


def proc_cgroups(pid):
    """{controller list: path} from /proc/<pid>/cgroup."""
    out = {}
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            _, ctrl, path = line.rstrip("\n").split(":", 2)
            out[ctrl] = path
    return out
