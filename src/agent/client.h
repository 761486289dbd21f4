/* The host side's typed client of the guest agent (agent/service.h): plain
 * C structs in and out, so the vm backend (sandbox/vm) never sees protobuf.
 *
 * One ttrpc connection to QEMU's end of the agent port (a unix socket,
 * `-chardev socket,server=on`), connected lazily by the first call and
 * again by the first call after it broke. Calls never block the loop: each
 * callback runs exactly once, later, with the answer or an error
 * (UNAVAILABLE while nothing listens on the socket, DEADLINE_EXCEEDED after
 * timeout_ms, CANCELLED when the client is freed).
 *
 * Ownership: the caller owns the client; ps_agent_client_free() must not be
 * called from one of its own callbacks.
 */
#ifndef PS_AGENT_CLIENT_H
#define PS_AGENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "cgroup/stats.h"

struct event_base;
struct ps_agent_client;

/* What Hello answers; valid during the callback only. */
struct ps_agent_hello {
        const char *version;        /* podshim-agent's version */
        const char *kernel_release; /* the guest's uname -r */
        const char *boot_id;        /* the guest's /proc/sys/kernel/random/boot_id */
        uint32_t pid;               /* the agent's pid in the guest */
};

/* hello is NULL exactly when err is set. */
typedef void (*ps_agent_hello_fn)(void *data, const struct ps_err *err,
                                  const struct ps_agent_hello *hello);
typedef void (*ps_agent_done_fn)(void *data, const struct ps_err *err);

/* A container to create in the guest (paths as the guest sees them). */
struct ps_agent_container_spec {
        const char *id, *bundle, *runtime;
        bool stdin_pipe, stdout_pipe, stderr_pipe; /* false: /dev/null */
        bool terminal; /* a pty in the guest: its output is stdout, the pipes are ignored */
};

/* An exec to run in a running container; process is the OCI Process JSON. */
struct ps_agent_exec_spec {
        const char *id, *exec_id;
        const char *process;
        bool stdin_pipe, stdout_pipe, stderr_pipe; /* false: /dev/null */
        bool terminal; /* a pty in the guest: its output is stdout, the pipes are ignored */
};

/* One exit as the agent reports it, or an OOM kill (oom: in container id,
 * before its exit if it ended the init; no exec id, pid or status); valid
 * during the callback only. */
struct ps_agent_exit_info {
        uint64_t seq;
        const char *id;
        const char *exec_id; /* "" for an init */
        uint32_t pid;
        unsigned exit_status;
        uint64_t exited_at_ns; /* CLOCK_REALTIME of the guest */
        bool oom;
};

/* pid is the container's init (a guest pid); 0 when err is set. */
typedef void (*ps_agent_pid_fn)(void *data, const struct ps_err *err, uint32_t pid);
typedef void (*ps_agent_pids_fn)(void *data, const struct ps_err *err, const uint32_t *pids,
                                 size_t n);
/* exits are in the agent's order (seq ascending); n > 0 unless err. */
typedef void (*ps_agent_exits_fn)(void *data, const struct ps_err *err,
                                  const struct ps_agent_exit_info *exits, size_t n);

struct ps_agent_client *ps_agent_client_new(struct event_base *base, const char *socket_path,
                                            struct ps_err **err);

/* Fails the pending calls with CANCELLED, then frees. NULL ok. */
struct ps_agent_client *ps_agent_client_free(struct ps_agent_client *c);

/* Returns 0 when the call is on its way (fn runs later), -1 if it could not
 * be queued (fn never runs). */
int ps_agent_client_hello(struct ps_agent_client *c, unsigned timeout_ms, ps_agent_hello_fn fn,
                          void *data, struct ps_err **err);

/* Asks the agent to exit, which ends the VM. */
int ps_agent_client_shutdown(struct ps_agent_client *c, unsigned timeout_ms, ps_agent_done_fn fn,
                             void *data, struct ps_err **err);

/* The container methods (agent/service.h); every call as above. */
int ps_agent_client_create(struct ps_agent_client *c, const struct ps_agent_container_spec *spec,
                           unsigned timeout_ms, ps_agent_pid_fn fn, void *data,
                           struct ps_err **err);
int ps_agent_client_start(struct ps_agent_client *c, const char *id, unsigned timeout_ms,
                          ps_agent_pid_fn fn, void *data, struct ps_err **err);
/* exec_id NULL or "": the container's init (or, with all, every process). */
int ps_agent_client_signal(struct ps_agent_client *c, const char *id, const char *exec_id, int sig,
                           bool all, unsigned timeout_ms, ps_agent_done_fn fn, void *data,
                           struct ps_err **err);
int ps_agent_client_delete(struct ps_agent_client *c, const char *id, unsigned timeout_ms,
                           ps_agent_done_fn fn, void *data, struct ps_err **err);
int ps_agent_client_pids(struct ps_agent_client *c, const char *id, unsigned timeout_ms,
                         ps_agent_pids_fn fn, void *data, struct ps_err **err);
/* An exec (fn gets its guest pid once it runs), and its removal. */
int ps_agent_client_exec(struct ps_agent_client *c, const struct ps_agent_exec_spec *spec,
                         unsigned timeout_ms, ps_agent_pid_fn fn, void *data, struct ps_err **err);
int ps_agent_client_delete_exec(struct ps_agent_client *c, const char *id, const char *exec_id,
                                unsigned timeout_ms, ps_agent_done_fn fn, void *data,
                                struct ps_err **err);
/* The window size of an exec's terminal. */
int ps_agent_client_resize(struct ps_agent_client *c, const char *id, const char *exec_id,
                           uint32_t width, uint32_t height, unsigned timeout_ms,
                           ps_agent_done_fn fn, void *data, struct ps_err **err);
/* Parks a WaitExits with no deadline: fn runs with the exits after `ack`
 * once there are some (or with an error when the connection goes). The
 * caller acknowledges them by the next call's ack. */
int ps_agent_client_wait_exits(struct ps_agent_client *c, uint64_t ack, ps_agent_exits_fn fn,
                               void *data, struct ps_err **err);

/* The stdio calls take the container's id and an exec id (NULL or "": the
 * container's init).
 * Output of a container (agent/streams.h): fn runs once bytes at `offset`
 * exist or the stream ended (no deadline: it waits as long as that takes),
 * with at most max_bytes; bytes are valid during the call only. Asking from
 * `offset` acknowledges every byte below it. stream: 0 stdout, 1 stderr. */
typedef void (*ps_agent_output_fn)(void *data, const struct ps_err *err, const uint8_t *bytes,
                                   size_t n, uint64_t next_offset, bool eof);
int ps_agent_client_read_output(struct ps_agent_client *c, const char *id, const char *exec_id,
                                int stream, uint64_t offset, uint32_t max_bytes,
                                ps_agent_output_fn fn, void *data, struct ps_err **err);

/* Writes bytes at `offset` of the container's stdin; fn gets how many the
 * agent took (>= 1, counting those taken before), once the pipe took any. */
typedef void (*ps_agent_taken_fn)(void *data, const struct ps_err *err, size_t taken);
int ps_agent_client_write_stdin(struct ps_agent_client *c, const char *id, const char *exec_id,
                                uint64_t offset, const uint8_t *bytes, size_t n,
                                ps_agent_taken_fn fn, void *data, struct ps_err **err);
int ps_agent_client_close_stdin(struct ps_agent_client *c, const char *id, const char *exec_id,
                                unsigned timeout_ms, ps_agent_done_fn fn, void *data,
                                struct ps_err **err);

/* The v2 metrics of the container's cgroup in the guest (no io or hugetlb
 * lists: the agent does not send them); m is valid during the callback
 * only and owns nothing. m is NULL exactly when err is set. */
typedef void (*ps_agent_stats_fn)(void *data, const struct ps_err *err,
                                  const struct ps_cgroup_metrics *m);
int ps_agent_client_stats(struct ps_agent_client *c, const char *id, unsigned timeout_ms,
                          ps_agent_stats_fn fn, void *data, struct ps_err **err);

/* The guest's network (agent/network.h): interfaces found by MAC. */
struct ps_agent_net_iface {
        const char *name, *mac; /* mac "aa:bb:cc:dd:ee:ff" */
        unsigned mtu;
        const char *const *addrs; /* "10.1.2.3/24" */
        size_t n_addrs;
};
struct ps_agent_net_route {
        const char *dst, *gw, *dev; /* gw "" or NULL: directly reachable */
};
int ps_agent_client_setup_network(struct ps_agent_client *c, const struct ps_agent_net_iface *ifs,
                                  size_t n_ifs, const struct ps_agent_net_route *routes,
                                  size_t n_routes, unsigned timeout_ms, ps_agent_done_fn fn,
                                  void *data, struct ps_err **err);

#endif
