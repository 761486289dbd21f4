/* Sockets of the unit tests. */
#ifndef PS_TEST_SOCK_H
#define PS_TEST_SOCK_H

/* A listening unix socket (non-blocking, close-on-exec) bound at `path`;
 * aborts the test run when it cannot be made. */
int test_listen_at(const char *path);

#endif
