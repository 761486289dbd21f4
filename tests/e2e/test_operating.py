"""What an operator reaches for (README "Operating podshim"): `-v` in the
form containerd's own shims print it, and the shim's log lines in
containerd's log, with levels and the pod's id, debug lines only when
containerd runs at debug level (it then passes -debug to the shim,
runtime/v2/binary.go in 1.6).

podshim only: these are podshim's own outputs, checked against the form of
containerd-shim-runc-v2's.
"""

import os
import re
import subprocess

import pytest

import harness
import ociimage

PODSHIM = "io.containerd.podshim.v2"
SHIM = harness.SHIM_BINARIES[PODSHIM]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SYSTEM_CONFIG = "/etc/podshim/config.toml"
# a shim log line as podshim writes it (base/log.h), logrus' text form
LINE = re.compile(r'^time="[0-9T:.-]+Z" level=(error|warning|info|debug) msg="((?:[^"\\]|\\.)*)"'
                  r' id=(\S+) namespace=(\S+) runtime=io\.containerd\.podshim\.v2$')


@pytest.fixture(scope="module")
def shim(bin_dir):
    path = os.path.join(bin_dir, SHIM)
    if not os.access(path, os.X_OK):
        pytest.fail("%s not found in PODSHIM_BIN_DIR=%s (build it first)" % (SHIM, bin_dir))
    return path


def _version(argv, env=None):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env)
    return p.returncode, p.stdout, p.stderr


def _project_version():
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        m = re.search(r"project\(podshim VERSION ([0-9.]+)", f.read())
    return m.group(1)


def _recorded_revision(bin_dir):
    """What the build in bin_dir recorded (cmake/revision.cmake), if it is
    a build tree."""
    try:
        with open(os.path.join(bin_dir, "gen", "revision.c")) as f:
            m = re.search(r'ps_build_revision\[\] = "([^"]*)";', f.read())
    except OSError:
        return None
    return m.group(1) if m else None


def test_version_has_the_form_of_containerds_shims(shim, bin_dir):
    """Name line, `  Version:  `, `  Revision: `, one more field, a blank
    line: the lines of containerd-shim-runc-v2 -v, with the OCI runtime where
    Go's version is. Version is the project's; Revision the one the build
    recorded, a commit for a build from git."""
    rc, ours, err = _version([shim, "-v"])
    assert rc == 0, err
    rc, theirs, err = _version([harness.dist().runc_shim, "-v"])
    assert rc == 0, err
    o, t = ours.split("\n"), theirs.split("\n")
    assert len(o) == len(t), (ours, theirs)
    assert o[0] == SHIM + ":" and t[0].endswith("containerd-shim-runc-v2:"), (ours, theirs)
    for a, b, key in ((o[1], t[1], "  Version:  "), (o[2], t[2], "  Revision: ")):
        assert a.startswith(key) and b.startswith(key), (ours, theirs)
    assert o[-2:] == ["", ""] and t[-2:] == ["", ""], (ours, theirs)
    assert o[1] == "  Version:  " + _project_version(), ours
    recorded = _recorded_revision(bin_dir)
    if recorded is None:
        pytest.skip("PODSHIM_BIN_DIR=%s is not a build tree: its revision is unknown" % bin_dir)
    assert o[2] == "  Revision: " + recorded, ours
    if os.path.exists(os.path.join(REPO, ".git")):
        assert re.fullmatch(r"[0-9a-f]{40}(\.m)?", recorded), recorded


def test_version_names_the_oci_runtime(shim, tmp_path):
    """The runtime a task without options gets: its `--version` first line,
    its path, and where the choice came from (the packaged config when it
    exists, else the default, runc); a runtime not on PATH is said so, and
    -v still exits 0."""
    rc, out, err = _version([shim, "-v"])
    assert rc == 0, err
    line = out.split("\n")[3]
    if os.path.exists(SYSTEM_CONFIG):
        assert line.endswith(", %s)" % SYSTEM_CONFIG), out
        return  # which binary the operator's file names is theirs to say
    runc = harness.run(["sh", "-c", "command -v runc"], timeout=10).stdout.strip()
    first = harness.run([runc, "--version"], timeout=10).stdout.split("\n")[0]
    assert line == "  OCI runtime: %s (%s, default)" % (first, runc), out

    env = dict(os.environ, PATH=str(tmp_path))  # no runc there
    rc, out, err = _version([shim, "-v"], env)
    assert rc == 0, err
    assert out.split("\n")[3] == ('  OCI runtime: runc (default): look up "runc": '
                                  'not found in $PATH'), out


def _shim_lines(text, task_id):
    """podshim's lines about the shim whose id is task_id, parsed."""
    out = []
    for raw in text.splitlines():
        if "runtime=io.containerd.podshim.v2" not in raw or " id=%s " % task_id not in raw:
            continue
        m = LINE.match(raw)
        assert m, "a podshim log line not in logrus' form: %r" % raw
        out.append(m.groups())
    return out


def _run_task(ctr, image, cid):
    ctr("run", "--rm", "--runtime", PODSHIM, image, cid, "true", timeout=60)


def test_logs_reach_containerd_with_debug(containerd, ctr, image, shim):
    """The session's containerd runs at debug level (trace from 1.7), so the
    shim got -debug: its lines reach containerd's log through the bundle's
    log FIFO, each with its level, the shim's id (the task's here; under
    CRI the pod's sandbox id) and namespace; the debug lines name every
    ttrpc request with its task id."""
    assert containerd.debug
    cid = "oplog-debug-%d" % os.getpid()
    start = containerd.log_size()
    _run_task(ctr, image, cid)
    lines = harness.wait_until(
        lambda: [ln for ln in _shim_lines(containerd.log_since(start), cid)
                 if ln[0] == "info" and ln[1].startswith("shutting down")] and
        _shim_lines(containerd.log_since(start), cid), 10, 0.1,
        "the shim's last lines in containerd's log")
    assert all(ns == ctr.namespace and i == cid for _, _, i, ns in lines), lines
    msgs = [(lvl, msg) for lvl, msg, _, _ in lines]
    assert any(lvl == "info" and re.match(r"podshim \S+ \(revision \S+\) serving, pid \d+$", m)
               for lvl, m in msgs), msgs
    for method in ("Create", "Start", "Delete"):
        assert any(lvl == "debug" and re.match(r"ttrpc: containerd\.task\.v[23]\.Task/%s id=%s"
                                               r"( |$)" % (method, re.escape(cid)), m)
                   for lvl, m in msgs), (method, msgs)


def test_logs_without_debug(bin_dir, asan_log_dir, shim):
    """containerd at info level passes no -debug: the shim's info line is
    there, no debug line is."""
    cd = harness.Containerd(bin_dir, debug=False, asan_log_dir=asan_log_dir)
    try:
        cd.start()
        c = cd.ctr("oplog-%d" % os.getpid())
        tar = os.path.join(cd.dir, "busybox.tar")
        image = ociimage.build_archive(tar)
        c("images", "import", "--all-platforms", tar, timeout=120)
        cid = "oplog-info-%d" % os.getpid()
        _run_task(c, image, cid)
        lines = harness.wait_until(
            lambda: [ln for ln in _shim_lines(cd.log_since(0), cid)
                     if ln[1].startswith("shutting down")] and _shim_lines(cd.log_since(0), cid),
            10, 0.1, "the shim's last lines in containerd's log")
        levels = sorted(set(ln[0] for ln in lines))
        assert "debug" not in levels, lines
        assert any(ln[0] == "info" and " serving, pid " in ln[1] for ln in lines), lines
        c.cleanup_namespace()
    finally:
        cd.stop()
        cd.remove()
        try:
            os.rmdir("/run/containerd/runc/oplog-%d" % os.getpid())
        except OSError:
            pass
