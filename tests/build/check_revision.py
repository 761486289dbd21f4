"""cmake/revision.cmake, run as the build runs it (cmake -P), on source
trees made here: a git work tree (clean, with a modified tracked file, with
only an untracked file), a `git archive` tarball of it (no .git: the
commit comes from cmake/archive-revision, filled in by export-subst), a
tarball without that, an override, and an override with characters that
must not reach a C string. Also: an unchanged revision leaves revision.c
untouched, so nothing is rebuilt.

Usage: check_revision.py <repo>   (a ctest test; exit 77 = skipped)
"""

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

REPO = os.path.abspath(sys.argv[1])
SCRIPT = os.path.join(REPO, "cmake", "revision.cmake")
GIT = shutil.which("git")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run_script(src, out, revision="", git=GIT):
    argv = ["cmake", "-DSRC_DIR=" + src, "-DOUT=" + out, "-DVERSION=1.2.3",
            "-DREVISION=" + revision, "-DGIT=" + (git or ""), "-P", SCRIPT]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def recorded(src, **kw):
    out = os.path.join(tempfile.mkdtemp(dir=work), "revision.c")
    p = run_script(src, out, **kw)
    if p.returncode != 0:
        return None, p.stderr
    with open(out) as f:
        text = f.read()
    m = re.search(r'ps_build_revision\[\] = "([^"]*)";', text)
    assert re.search(r'ps_build_version\[\] = "1\.2\.3";', text), text
    return m.group(1), text


def git(repo, *args):
    return subprocess.run([GIT, "-C", repo, "-c", "user.name=t", "-c", "user.email=t@t",
                           "-c", "commit.gpgsign=false"] + list(args),
                          capture_output=True, text=True, timeout=60, check=True).stdout.strip()


work = tempfile.mkdtemp(prefix="ps-revision-")
try:
    # a source tree: the real cmake/ files and .gitattributes, one source file
    src = os.path.join(work, "src")
    os.makedirs(os.path.join(src, "cmake"))
    for f in ("cmake/archive-revision", "cmake/revision.cmake", ".gitattributes"):
        shutil.copy(os.path.join(REPO, f), os.path.join(src, f))
    with open(os.path.join(src, "main.c"), "w") as f:
        f.write("int main(void) { return 0; }\n")

    rev, _ = recorded(src)
    check(rev == "", "a tree without .git and an unfilled archive-revision: empty (%r)" % rev)
    rev, _ = recorded(src, revision="1.2.3-4+deb12u1")
    check(rev == "1.2.3-4+deb12u1", "-DPODSHIM_REVISION wins (%r)" % rev)
    rev, err = recorded(src, revision='x"; int evil;')
    check(rev is None and "refusing revision" in err, "a revision with a quote is refused")

    if not GIT:
        print("git is not installed: the git and git-archive cases are skipped")
        sys.exit(77 if not failures else 1)

    git(src, "init", "-q")
    git(src, "add", "-A")
    git(src, "commit", "-q", "-m", "one")
    head = git(src, "rev-parse", "HEAD")
    rev, _ = recorded(src)
    check(rev == head, "a clean git tree: HEAD (%r)" % rev)
    rev, _ = recorded(src, revision="override")
    check(rev == "override", "-DPODSHIM_REVISION wins over git (%r)" % rev)
    rev, _ = recorded(src, git="")
    check(rev == "", "git not found: empty, not the unfilled archive file (%r)" % rev)
    with open(os.path.join(src, "untracked.c"), "w") as f:
        f.write("\n")
    rev, _ = recorded(src)
    check(rev == head, "an untracked file does not mark the tree modified (%r)" % rev)
    with open(os.path.join(src, "main.c"), "a") as f:
        f.write("/* changed */\n")
    rev, _ = recorded(src)
    check(rev == head + ".m", "a modified tracked file: HEAD.m (%r)" % rev)
    git(src, "checkout", "-q", "--", "main.c")

    # a tree inside another repository records nothing from that one
    inner = os.path.join(src, "vendored")
    os.makedirs(os.path.join(inner, "cmake"))
    shutil.copy(os.path.join(REPO, "cmake/archive-revision"), os.path.join(inner, "cmake"))
    rev, _ = recorded(inner)
    check(rev == "", "sources unpacked inside another git tree: empty (%r)" % rev)

    # the release tarball: git archive fills in cmake/archive-revision
    tarball = os.path.join(work, "podshim.tar")
    git(src, "archive", "--format=tar", "--prefix=podshim/", "-o", tarball, "HEAD")
    unpacked = os.path.join(work, "unpacked")
    with tarfile.open(tarball) as t:
        t.extractall(unpacked)
    tree = os.path.join(unpacked, "podshim")
    check(not os.path.exists(os.path.join(tree, ".git")), "the tarball has no .git")
    rev, _ = recorded(tree)
    check(rev == head, "a git archive tarball: its commit (%r)" % rev)

    # unchanged revision: revision.c is not rewritten (no rebuild)
    out = os.path.join(work, "stable", "revision.c")
    os.makedirs(os.path.dirname(out))
    run_script(src, out)
    os.utime(out, (1000000000, 1000000000))
    run_script(src, out)
    check(os.stat(out).st_mtime == 1000000000, "an unchanged revision leaves revision.c alone")
    with open(os.path.join(src, "main.c"), "a") as f:
        f.write("/* changed */\n")
    run_script(src, out)
    check(os.stat(out).st_mtime != 1000000000, "a changed revision rewrites revision.c")
finally:
    shutil.rmtree(work, ignore_errors=True)

print("%d failed" % len(failures))
sys.exit(1 if failures else 0)
