"""Runs OCI runtime exec command lines for the bench and reaps what they
leave behind.

`<runtime> exec --detach` exits as soon as the new process runs; that
process is orphaned and goes to the nearest child subreaper. Under a shim
that is the shim, which reaps it at once. Run straight from the bench it
would go to the machine's init, which may reap late; until then the exited
process keeps the container's cgroup busy and slows the pod's stop. So this
helper marks itself a subreaper, runs each command, times it (the runtime's
run only, as a shim's Start sees it) and then reaps the orphan itself.

Protocol: one JSON argv per stdin line; one JSON line back,
{"seconds": float} or {"error": str}. Ends at EOF.
"""

import ctypes
import json
import os
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def reap(pid_file):
    """Waits for the exec'd process named in pid_file, then for anything
    else the runtime orphaned to us."""
    with open(pid_file) as f:
        pid = int(f.read().strip())
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass  # not ours: the runtime reaped it itself (or it was never orphaned)
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("prctl(PR_SET_CHILD_SUBREAPER): %s" % os.strerror(ctypes.get_errno()))
    for line in sys.stdin:
        argv = json.loads(line)
        t = time.monotonic()
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        took = time.monotonic() - t
        if p.returncode != 0:
            reply = {"error": "%s: exit %d: %s" % (" ".join(argv), p.returncode,
                                                   p.stderr.decode(errors="replace"))}
        else:
            reap(argv[argv.index("--pid-file") + 1])
            reply = {"seconds": took}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
