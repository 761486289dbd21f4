/* A ttrpc server under test and the client end of a connection to it, for
 * the fuzz targets that speak to a real server (fuzz_ttrpc_server and the
 * service targets). Everything here runs on the caller's event base, one
 * non-blocking pass at a time, so a target decides when the server gets to
 * run; every failure to set up aborts, as nothing can be fuzzed without it. */
#ifndef PS_FUZZ_CONN_H
#define PS_FUZZ_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>

#include "ttrpc/server.h"

/* A server for `services` (n of them, which must outlive it) on base. Its
 * listener is never used: inputs arrive on connections from
 * fuzz_conn_open(). */
struct ttrpc_server *fuzz_conn_server_new(struct event_base *base,
                                          const struct ttrpc_service *services, size_t n);

/* Connects a new client to srv through a socket pair the server adopts;
 * returns the client's end (non-blocking), which the caller closes. */
int fuzz_conn_open(struct ttrpc_server *srv);

/* Runs one non-blocking pass of the loop, then reads and drops whatever the
 * server has written to the client fd, so its replies never fill the
 * socket. */
void fuzz_conn_pump(struct event_base *base, int fd);

/* Writes data[0..size) to fd in pieces of `chunk` bytes (the server must
 * cope with frames split anywhere), pumping the loop after each; stops
 * early if fd refuses more (the server dropped the connection). */
void fuzz_conn_feed(struct event_base *base, int fd, const uint8_t *data, size_t size,
                    size_t chunk);

/* The client half-closes fd; the loop runs until srv has dropped the
 * connection, and the process aborts if it never does (the server must
 * notice a hang-up). fd stays the caller's to close. */
void fuzz_conn_hang_up(struct event_base *base, struct ttrpc_server *srv, int fd);

#endif
