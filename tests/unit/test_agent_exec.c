/* The guest agent's exec (agent/containers.h, agent/service.h) end to end
 * on this host: the host side's real client (agent/client.h) over a real
 * socket to the real ttrpc server serving the agent's real service, whose
 * container table runs the real runc (as root, the test a subreaper as
 * the agent is) on a bundle of busybox. What a VM adds (the port, the
 * guest kernel) the VM tests cover; this covers the agent's answers:
 * an exec's output, exit status with its exec id through WaitExits, a
 * signal to it, its deletion, and every refusal with its exact code, the
 * agent serving on after each. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/event.h>

#include "agent/client.h"
#include "agent/containers.h"
#include "agent/service.h"
#include "base/fs.h"
#include "base/log.h"
#include "check.h"
#include "core/reaper.h"
#include "support/scratch.h"
#include "support/sock.h"
#include "ttrpc/server.h"

#define RUNTIME_DIR "/usr/sbin" /* where Debian's runc is */
#define CALL_MS     30000

struct fixture {
        char dir[64], sock[96], bundles[96], runc_root[96];
        struct event_base *base;
        struct ps_reaper *reaper;
        struct ps_agent_service svc;
        struct ps_agent_containers *table;
        struct ttrpc_server *srv;
        struct ps_agent_client *client;
};

/* One answer, whatever the call. */
struct reply {
        int done;
        enum ps_code code;
        char msg[512];
        uint32_t pid;
        uint8_t out[256];
        size_t n;
        bool eof;
        struct ps_agent_exit_info exits[8];
        char exec_ids[8][32];
        size_t n_exits;
};

static void take_err(struct reply *r, const struct ps_err *err)
{
        r->done = 1;
        r->code = err ? err->code : PS_OK;
        snprintf(r->msg, sizeof(r->msg), "%s", err ? ps_err_msg(err) : "");
}

static void on_done(void *data, const struct ps_err *err)
{
        take_err(data, err);
}

static void on_pid(void *data, const struct ps_err *err, uint32_t pid)
{
        struct reply *r = data;

        take_err(r, err);
        r->pid = pid;
}

static void on_hello(void *data, const struct ps_err *err, const struct ps_agent_hello *h)
{
        struct reply *r = data;

        take_err(r, err);
        r->pid = h ? h->pid : 0;
}

static void on_output(void *data, const struct ps_err *err, const uint8_t *bytes, size_t n,
                      uint64_t next, bool eof)
{
        struct reply *r = data;

        take_err(r, err);
        r->n = n < sizeof(r->out) ? n : sizeof(r->out);
        if (r->n)
                memcpy(r->out, bytes, r->n);
        r->eof = eof;
}

static void on_exits(void *data, const struct ps_err *err, const struct ps_agent_exit_info *e,
                     size_t n)
{
        struct reply *r = data;

        take_err(r, err);
        r->n_exits = n < 8 ? n : 8;
        for (size_t i = 0; i < r->n_exits; i++) {
                r->exits[i] = e[i];
                snprintf(r->exec_ids[i], sizeof(r->exec_ids[i]), "%s", e[i].exec_id);
                /* not kept: the reply is returned by value, so a pointer
                 * into it would dangle; exec_ids[i] holds the exec id */
                r->exits[i].exec_id = NULL;
                r->exits[i].id = NULL;
        }
}

static void wait_for(struct fixture *fx, const struct reply *r, int secs)
{
        for (int i = 0; i < secs * 10 && !r->done; i++) {
                struct timeval tv = {.tv_usec = 100000};

                event_base_loopexit(fx->base, &tv);
                event_base_dispatch(fx->base);
        }
        CHECK(r->done);
}

static void write_text(const char *path, const char *text)
{
        CHECK(ps_write_file_atomic(path, text, strlen(text), 0644, NULL) == 0);
}

/* <bundles>/<id>: busybox as the rootfs, `sleep` as the init. */
static void make_bundle(const struct fixture *fx, const char *id)
{
        char path[PATH_MAX], spec[1536];

        snprintf(path, sizeof(path), "%s/%s/rootfs/bin", fx->bundles, id);
        CHECK(ps_mkdir_p(path, 0755, NULL) == 0);
        snprintf(path, sizeof(path), "%s/%s/rootfs/proc", fx->bundles, id);
        CHECK(mkdir(path, 0755) == 0);
        snprintf(path, sizeof(path), "cp /bin/busybox %s/%s/rootfs/bin/busybox", fx->bundles, id);
        CHECK(system(path) == 0);
        snprintf(spec, sizeof(spec),
                 "{\"ociVersion\":\"1.0.2\",\"process\":{\"terminal\":false,"
                 "\"user\":{\"uid\":0,\"gid\":0},\"args\":[\"/bin/busybox\",\"sleep\",\"1000\"],"
                 "\"env\":[\"PATH=/bin\"],\"cwd\":\"/\"},\"root\":{\"path\":\"rootfs\"},"
                 "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
                 "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"},"
                 "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\","
                 "\"options\":[\"newinstance\",\"ptmxmode=0666\",\"mode=0620\"]}],"
                 "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},"
                 "{\"type\":\"ipc\"},{\"type\":\"uts\"}],\"cgroupsPath\":\"/podshim-unit-%d-%s\"}}",
                 (int)getpid(), id);
        snprintf(path, sizeof(path), "%s/%s/config.json", fx->bundles, id);
        write_text(path, spec);
}

static void fx_setup(struct fixture *fx)
{
        memset(fx, 0, sizeof(*fx));
        snprintf(fx->dir, sizeof(fx->dir), "/tmp/agent-exec-XXXXXX");
        CHECK(mkdtemp(fx->dir) != NULL);
        snprintf(fx->sock, sizeof(fx->sock), "%s/agent.sock", fx->dir);
        snprintf(fx->bundles, sizeof(fx->bundles), "%s/bundles", fx->dir);
        /* runc's state of its own: runs side by side (CI, another
         * checkout) must not meet over the same container ids */
        snprintf(fx->runc_root, sizeof(fx->runc_root), "%s/runc", fx->dir);
        CHECK(mkdir(fx->bundles, 0700) == 0);
        CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0); /* as the agent is */
        fx->base = event_base_new();
        fx->reaper = ps_reaper_new(fx->base, NULL);
        ps_agent_service_init(&fx->svc, NULL, NULL);
        fx->table =
            ps_agent_containers_new(fx->base, fx->reaper, fx->bundles, RUNTIME_DIR, fx->runc_root,
                                    ps_agent_service_exit_queued, &fx->svc, NULL);
        CHECK(fx->reaper && fx->table);
        ps_agent_service_set_containers(&fx->svc, fx->table);
        fx->srv = ttrpc_server_new(fx->base, test_listen_at(fx->sock), &fx->svc.svc, 1, NULL);
        fx->client = ps_agent_client_new(fx->base, fx->sock, NULL);
        CHECK(fx->srv && fx->client);
}

static void fx_teardown(struct fixture *fx)
{
        fx->client = ps_agent_client_free(fx->client);
        fx->srv = ttrpc_server_free(fx->srv);
        fx->table = ps_agent_containers_free(fx->table);
        fx->reaper = ps_reaper_free(fx->reaper);
        event_base_free(fx->base);
        test_rm_rf(fx->dir);
}

static struct reply exec_call(struct fixture *fx, const char *id, const char *exec_id,
                              const char *process, bool stdout_pipe)
{
        struct ps_agent_exec_spec spec = {
            .id = id, .exec_id = exec_id, .process = process, .stdout_pipe = stdout_pipe};
        struct reply r = {0};

        CHECK(ps_agent_client_exec(fx->client, &spec, CALL_MS, on_pid, &r, NULL) == 0);
        wait_for(fx, &r, 30);
        return r;
}

static void on_taken(void *data, const struct ps_err *err, size_t taken)
{
        struct reply *r = data;

        take_err(r, err);
        r->n = taken;
}

/* A terminal exec: the pty is runc's, its master the agent's one output
 * stream and its stdin; Resize sizes it before the shell asks. */
static void check_terminal(struct fixture *fx)
{
        struct ps_agent_exec_spec spec = {
            .id = "c1",
            .exec_id = "tty",
            .process = "{\"args\":[\"/bin/busybox\",\"sh\",\"-c\",\"read l; stty size; echo "
                       "got $l\"],\"cwd\":\"/\",\"env\":[\"PATH=/bin\"],\"terminal\":true}",
            .terminal = true};
        char got[1024];
        size_t len = 0;
        struct reply r = {0};

        CHECK(ps_agent_client_exec(fx->client, &spec, CALL_MS, on_pid, &r, NULL) == 0);
        wait_for(fx, &r, 30);
        CHECK_STREQ(r.msg, "");
        r = (struct reply){0};
        CHECK(ps_agent_client_resize(fx->client, "c1", "tty", 100, 40, CALL_MS, on_done, &r,
                                     NULL) == 0);
        wait_for(fx, &r, 10);
        CHECK_STREQ(r.msg, "");
        r = (struct reply){0};
        CHECK(ps_agent_client_write_stdin(fx->client, "c1", "tty", 0, (const uint8_t *)"hi\n", 3,
                                          on_taken, &r, NULL) == 0);
        wait_for(fx, &r, 10);
        CHECK_INTEQ(r.n, 3);
        for (int i = 0; i < 50; i++) {
                r = (struct reply){0};
                CHECK(ps_agent_client_read_output(fx->client, "c1", "tty", 0, len, 0, on_output, &r,
                                                  NULL) == 0);
                wait_for(fx, &r, 10);
                if (r.code != PS_OK || len + r.n >= sizeof(got))
                        break;
                memcpy(got + len, r.out, r.n);
                len += r.n;
                if (r.eof)
                        break;
        }
        got[len] = '\0';
        CHECK(r.eof);
        CHECK_STREQ(got, "hi\r\n40 100\r\ngot hi\r\n");
}

static struct reply wait_exits(struct fixture *fx, uint64_t ack)
{
        struct reply r = {0};

        CHECK(ps_agent_client_wait_exits(fx->client, ack, on_exits, &r, NULL) == 0);
        wait_for(fx, &r, 30);
        return r;
}

static struct reply simple(struct fixture *fx, int which, const char *id, const char *exec_id,
                           int sig, bool all)
{
        struct reply r = {0};
        int q = -1;

        if (which == 0)
                q = ps_agent_client_signal(fx->client, id, exec_id, sig, all, CALL_MS, on_done, &r,
                                           NULL);
        else if (which == 1)
                q = ps_agent_client_delete_exec(fx->client, id, exec_id, CALL_MS, on_done, &r,
                                                NULL);
        else if (which == 2)
                q = ps_agent_client_read_output(fx->client, id, exec_id, 0, 0, 0, on_output, &r,
                                                NULL);
        else if (which == 3)
                q = ps_agent_client_delete(fx->client, id, CALL_MS, on_done, &r, NULL);
        CHECK(q == 0);
        wait_for(fx, &r, 30);
        return r;
}

enum { SIGNAL, DELETE_EXEC, READ, DELETE };

#define PROC(args) "{\"args\":" args ",\"cwd\":\"/\",\"env\":[\"PATH=/bin\"]}"

/* Refusals that need no container: the request's own mistakes first. */
static void test_refusals_without_a_container(void)
{
        struct fixture fx;
        struct reply r;

        fx_setup(&fx);
        r = exec_call(&fx, "nope", "e1", PROC("[\"true\"]"), false);
        CHECK_INTEQ(r.code, PS_NOT_FOUND);
        CHECK(strstr(r.msg, "container nope: not found") != NULL);
        r = exec_call(&fx, "nope", "../e1", PROC("[\"true\"]"), false);
        CHECK_INTEQ(r.code, PS_INVALID_ARGUMENT);
        CHECK(strstr(r.msg, "bad exec id") != NULL);
        r = exec_call(&fx, "nope", "e1", "{\"args\":", false);
        CHECK_INTEQ(r.code, PS_INVALID_ARGUMENT);
        CHECK(strstr(r.msg, "no JSON object") != NULL);
        r = exec_call(&fx, "nope", "e1", PROC("[]"), false);
        CHECK_INTEQ(r.code, PS_INVALID_ARGUMENT);
        r = exec_call(&fx, "nope", "e1", PROC("[\"sh\",7]"), false);
        CHECK_INTEQ(r.code, PS_INVALID_ARGUMENT);
        r = exec_call(&fx, "nope", "e1", "{\"args\":[\"true\"],\"terminal\":true}", false);
        CHECK_INTEQ(r.code, PS_INVALID_ARGUMENT);
        CHECK(strstr(r.msg, "terminal") != NULL);
        r = simple(&fx, DELETE_EXEC, "nope", "e1", 0, false);
        CHECK_INTEQ(r.code, PS_NOT_FOUND);
        {
                struct reply h = {0};

                CHECK(ps_agent_client_hello(fx.client, CALL_MS, on_hello, &h, NULL) == 0);
                wait_for(&fx, &h, 10);
                CHECK_INTEQ(h.code, PS_OK); /* serving on */
                CHECK_INTEQ(h.pid, getpid());
        }
        fx_teardown(&fx);
}

static void test_exec_in_a_container(void)
{
        struct fixture fx;
        struct ps_agent_container_spec c1 = {.id = "c1", .runtime = "runc"};
        char bundle[PATH_MAX];
        struct reply r = {0}, x;
        uint32_t init;

        fx_setup(&fx);
        make_bundle(&fx, "c1");
        snprintf(bundle, sizeof(bundle), "%s/c1", fx.bundles);
        c1.bundle = bundle;
        CHECK(ps_agent_client_create(fx.client, &c1, CALL_MS, on_pid, &r, NULL) == 0);
        wait_for(&fx, &r, 30);
        CHECK_STREQ(r.msg, "");
        init = r.pid;
        r = (struct reply){0};
        CHECK(ps_agent_client_start(fx.client, "c1", CALL_MS, on_pid, &r, NULL) == 0);
        wait_for(&fx, &r, 30);
        CHECK_STREQ(r.msg, "");

        /* output and exit status, the exit carrying its exec id */
        x = exec_call(&fx, "c1", "e1",
                      PROC("[\"/bin/busybox\",\"sh\",\"-c\",\"echo hi from exec; exit 4\"]"), true);
        CHECK_STREQ(x.msg, "");
        CHECK(x.pid > 0 && x.pid != init);
        r = wait_exits(&fx, 0);
        CHECK_INTEQ(r.code, PS_OK);
        {
                uint64_t ack = 0;
                bool seen_e1 = false;

                for (int round = 0; round < 3 && !seen_e1; round++) {
                        for (size_t i = 0; i < r.n_exits; i++) {
                                ack = r.exits[i].seq;
                                if (strcmp(r.exec_ids[i], "e1") == 0) {
                                        seen_e1 = true;
                                        CHECK_INTEQ(r.exits[i].exit_status, 4);
                                        CHECK_INTEQ(r.exits[i].pid, x.pid);
                                }
                        }
                        if (!seen_e1)
                                r = wait_exits(&fx, ack);
                }
                CHECK(seen_e1);
                r = simple(&fx, READ, "c1", "e1", 0, false);
                CHECK_INTEQ(r.code, PS_OK);
                CHECK_INTEQ(r.n, 13);
                CHECK(memcmp(r.out, "hi from exec\n", 13) == 0);

                /* a duplicate id; a signal to an exec, not with `all` */
                x = exec_call(&fx, "c1", "e2", PROC("[\"/bin/busybox\",\"sleep\",\"1000\"]"),
                              false);
                CHECK_STREQ(x.msg, "");
                r = exec_call(&fx, "c1", "e2", PROC("[\"/bin/busybox\",\"true\"]"), false);
                CHECK_INTEQ(r.code, PS_ALREADY_EXISTS);
                r = exec_call(&fx, "c1", "e9", PROC("[\"/bin/busybox\",\"true\"]"), true);
                CHECK_INTEQ(r.code, PS_OK);
                /* runc fails (no `true` in the rootfs): nothing is left of it */
                r = exec_call(&fx, "c1", "bad", PROC("[\"true\"]"), false);
                CHECK_INTEQ(r.code, PS_UNKNOWN);
                CHECK(strstr(r.msg, "OCI runtime exec failed") != NULL);
                r = exec_call(&fx, "c1", "bad", PROC("[\"/bin/busybox\",\"true\"]"), false);
                CHECK_INTEQ(r.code, PS_OK);
                r = simple(&fx, SIGNAL, "c1", "e2", SIGKILL, true);
                CHECK_INTEQ(r.code, PS_INVALID_ARGUMENT);
                r = simple(&fx, SIGNAL, "c1", "e2", SIGKILL, false);
                CHECK_INTEQ(r.code, PS_OK);
                seen_e1 = false;
                for (int round = 0; round < 4 && !seen_e1; round++) {
                        r = wait_exits(&fx, ack);
                        for (size_t i = 0; i < r.n_exits; i++) {
                                ack = r.exits[i].seq;
                                if (strcmp(r.exec_ids[i], "e2") == 0) {
                                        seen_e1 = true;
                                        CHECK_INTEQ(r.exits[i].exit_status, 128 + SIGKILL);
                                }
                        }
                }
                CHECK(seen_e1);
        }
        r = simple(&fx, SIGNAL, "c1", "e2", SIGTERM, false);
        CHECK_INTEQ(r.code, PS_NOT_FOUND); /* it has exited */
        r = (struct reply){0};
        CHECK(ps_agent_client_resize(fx.client, "c1", "e2", 80, 24, CALL_MS, on_done, &r, NULL) ==
              0);
        wait_for(&fx, &r, 10);
        CHECK_INTEQ(r.code, PS_FAILED_PRECONDITION); /* pipes: no terminal */
        check_terminal(&fx);

        /* deleted: gone, its streams too, and its id free again */
        r = simple(&fx, DELETE_EXEC, "c1", "e1", 0, false);
        CHECK_INTEQ(r.code, PS_OK);
        r = simple(&fx, DELETE_EXEC, "c1", "e1", 0, false);
        CHECK_INTEQ(r.code, PS_NOT_FOUND);
        r = simple(&fx, READ, "c1", "e1", 0, false);
        CHECK_INTEQ(r.code, PS_NOT_FOUND);
        r = exec_call(&fx, "c1", "e1", PROC("[\"/bin/busybox\",\"true\"]"), false);
        CHECK_INTEQ(r.code, PS_OK);

        r = simple(&fx, DELETE, "c1", NULL, 0, false);
        CHECK_STREQ(r.msg, "");
        r = exec_call(&fx, "c1", "e3", PROC("[\"/bin/busybox\",\"true\"]"), false);
        CHECK_INTEQ(r.code, PS_NOT_FOUND);
        fx_teardown(&fx);
}

int main(void)
{
        ps_log_setup(PS_LOG_ERROR, NULL, NULL);
        signal(SIGPIPE, SIG_IGN);
        RUN(test_refusals_without_a_container);
        if (geteuid() == 0 && access(RUNTIME_DIR "/runc", X_OK) == 0 &&
            access("/bin/busybox", X_OK) == 0)
                RUN(test_exec_in_a_container);
        else
                CHECK(!"runc, busybox and root are needed");
        return check_summary();
}
