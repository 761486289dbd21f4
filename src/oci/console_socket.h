/* The OCI runtime's --console-socket, through which it hands over the pty
 * master of a terminal process: the Linux backend's stdio (sandbox/linux/
 * stdio.c) and the guest agent's execs (agent/containers.c) use it.
 *
 * A fresh private directory <tmp>/pty-XXXXXX holds one listening unix socket
 * pty.sock. runc connects, sends one SCM_RIGHTS message carrying the master
 * (the data part is the pty name) and exits; by the time the caller looks
 * (once the runtime exited), the connection and the message are queued, so
 * receiving never waits.
 */
#ifndef PS_OCI_CONSOLE_SOCKET_H
#define PS_OCI_CONSOLE_SOCKET_H

#include "base/error.h"

struct ps_console_socket {
        char *dir;  /* NULL once removed */
        char *path; /* dir + "/pty.sock" */
        int fd;     /* listening socket, -1 when closed */
};

/* tmp_dir NULL or "": /tmp. On failure *cs is left closed (fd -1). */
int ps_console_socket_open(const char *tmp_dir, struct ps_console_socket *cs, struct ps_err **err);

/* Accepts the runtime's connection and receives exactly one fd: the master,
 * returned O_CLOEXEC|O_NONBLOCK. FAILED_PRECONDITION when nothing was sent. */
int ps_console_socket_recv(struct ps_console_socket *cs, int *ret_master, struct ps_err **err);

/* Closes the socket and removes it and its directory. Idempotent. */
void ps_console_socket_close(struct ps_console_socket *cs);

#endif
