#include "shim/child.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include "base/backoff.h"

#define POLL_STEP_MS 10

int ps_child_wait(pid_t pid, int timeout_ms)
{
        int status = 0;

        for (int waited = 0; waited <= timeout_ms; waited += POLL_STEP_MS) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r == pid)
                        return status;
                if (r < 0 && errno != EINTR)
                        return -1;
                ps_sleep_ms(POLL_STEP_MS);
        }
        /* The whole group: a helper the program left behind would keep
         * containerd's stderr pipe open and stall the action past its bound. */
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        return -1;
}
