/* libFuzzer target: the real Task service (api/task_service.c), the real
 * sandbox layer and task core, over the fake backend, driven through a real
 * ttrpc connection by a program the input encodes.
 *
 * Each input byte pair is one step: a Task API call with arguments picked
 * from small sets (so calls meet the same tasks and execs again), or what a
 * backend does on its own (a held operation completes or fails, a process
 * exits, the backend's mood changes), or a burst of raw bytes. After the
 * program every held operation is completed, every process exits, and the
 * peer hangs up; then the connection must be gone, every call answered or
 * cancelled, and the registry emptied by destroy without a leak (ASan/LSan
 * runs with it). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/event.h>

#include "api/task_service.h"
#include "base/log.h"
#include "containerd/task/v2/task.pb-c.h"
#include "fake_backend.h"
#include "sandbox/sandbox.h"
#include "ttrpc/frame.h"
#include "ttrpc/server.h"
#include "ttrpc/ttrpc.pb-c.h"

static const char *const ids[] = {"pod", "c1", "c2"};
static const char *const execs[] = {"x1", "x2", ""};

struct fuzz {
        struct event_base *base;
        struct ttrpc_server *srv;
        struct fake_backend fb;
        struct fake_events ev;
        struct ps_sandboxes sbs;
        struct ps_task_service svc;
        struct ttrpc_service desc[PS_TASK_SERVICE_NAMES];
        char dir[64];
        uint32_t stream;
};

static struct fuzz *fz;

static void no_shutdown(void *data)
{
}

static void write_bundle(const char *dir, const char *id, bool sandbox)
{
        char path[160];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, id);
        mkdir(path, 0700);
        snprintf(path, sizeof(path), "%s/%s/config.json", dir, id);
        f = fopen(path, "w");
        if (!f)
                abort();
        fprintf(f,
                "{\"process\":{\"args\":[\"x\"],\"cwd\":\"/\"},\"root\":{\"path\":\"r\"},"
                "\"annotations\":{\"io.kubernetes.cri.container-type\":\"%s\","
                "\"io.kubernetes.cri.sandbox-id\":\"pod\"}}",
                sandbox ? "sandbox" : "container");
        fclose(f);
}

static struct fuzz *fuzz_init(void)
{
        static struct fuzz st;
        int lfd;

        ps_log_setup(PS_LOG_ERROR, NULL, NULL);
        snprintf(st.dir, sizeof(st.dir), "/tmp/ps-fuzz-XXXXXX");
        if (!mkdtemp(st.dir))
                abort();
        for (size_t i = 0; i < 3; i++)
                write_bundle(st.dir, ids[i], i == 0);
        st.base = event_base_new();
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (!st.base || lfd < 0 ||
            bind(lfd, (struct sockaddr *)&(struct sockaddr_un){.sun_family = AF_UNIX},
                 sizeof(sa_family_t)) < 0 ||
            listen(lfd, 1) < 0)
                abort();
        /* grouped: a Shutdown is remembered until the last Delete */
        ps_task_service_init(&st.svc, &st.sbs, true, no_shutdown, NULL);
        ps_task_service_describe(&st.svc, st.desc);
        st.srv = ttrpc_server_new(st.base, lfd, st.desc, PS_TASK_SERVICE_NAMES, NULL);
        if (!st.srv)
                abort();
        return &st;
}

static void registry_init(struct fuzz *f)
{
        fake_backend_init(&f->fb);
        fake_events_init(&f->ev);
        ps_sandboxes_init(&f->sbs, &f->ev.sink, NULL, f->base, NULL, "fuzz", f->dir);
        f->sbs.pod_ops = &f->fb.ops;
        f->sbs.container_ops = &f->fb.ops;
        f->sbs.be_ctx = &f->fb;
}

static void drain(int fd)
{
        uint8_t sink[4096];

        while (read(fd, sink, sizeof(sink)) > 0)
                ;
}

static void send_call(int fd, const char *method, const ProtobufCMessage *msg)
{
        Ttrpc__Request req = TTRPC__REQUEST__INIT;
        uint8_t payload[4096], frame[8192];
        size_t plen = msg ? protobuf_c_message_get_packed_size(msg) : 0, len;

        if (plen > sizeof(payload))
                return;
        if (msg)
                protobuf_c_message_pack(msg, payload);
        req.service = (fz->stream & 2) ? "containerd.task.v3.Task" : "containerd.task.v2.Task";
        req.method = (char *)(uintptr_t)method;
        req.payload.data = payload;
        req.payload.len = plen;
        len = ttrpc__request__get_packed_size(&req);
        if (len + 10 > sizeof(frame))
                return;
        frame[0] = (uint8_t)(len >> 24);
        frame[1] = (uint8_t)(len >> 16);
        frame[2] = (uint8_t)(len >> 8);
        frame[3] = (uint8_t)len;
        fz->stream += 2;
        frame[4] = (uint8_t)(fz->stream >> 24);
        frame[5] = (uint8_t)(fz->stream >> 16);
        frame[6] = (uint8_t)(fz->stream >> 8);
        frame[7] = (uint8_t)fz->stream;
        frame[8] = 1; /* request */
        frame[9] = 0;
        ttrpc__request__pack(&req, frame + 10);
        if (write(fd, frame, len + 10) < 0 && errno != EAGAIN)
                return;
}

static struct ps_process *some_process(uint8_t a)
{
        return ps_tasks_process(&fz->sbs.tasks, ids[a % 3], execs[(a / 3) % 3], NULL);
}

/* One step of the program: op and its argument byte. */
static void step(int fd, uint8_t op, uint8_t a)
{
        char *id = (char *)(uintptr_t)ids[a % 3];
        char *exec_id = (char *)(uintptr_t)execs[(a / 3) % 3];
        static uint8_t good_spec[] = "{\"args\":[\"sleep\"],\"cwd\":\"/\"}";
        static uint8_t bad_spec[] = "{\"args\":[]}";
        char bundle[128];

        switch (op % 22) {
        case 0: {
                Containerd__Task__V2__CreateTaskRequest r =
                    CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
                snprintf(bundle, sizeof(bundle), "%s/%s", fz->dir, id);
                r.id = id;
                r.bundle = (a & 0x80) ? "relative/bundle" : bundle;
                send_call(fd, "Create", &r.base);
                break;
        }
        case 1: {
                Containerd__Task__V2__StartRequest r = CONTAINERD__TASK__V2__START_REQUEST__INIT;
                r.id = id;
                r.exec_id = exec_id;
                send_call(fd, "Start", &r.base);
                break;
        }
        case 2: {
                Containerd__Task__V2__DeleteRequest r = CONTAINERD__TASK__V2__DELETE_REQUEST__INIT;
                r.id = id;
                r.exec_id = exec_id;
                send_call(fd, "Delete", &r.base);
                break;
        }
        case 3: {
                Containerd__Task__V2__KillRequest r = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;
                r.id = id;
                r.exec_id = exec_id;
                r.signal = (a & 0x40) ? 9 : (a & 0x20) ? 0 : 15;
                r.all = a & 0x80;
                send_call(fd, "Kill", &r.base);
                break;
        }
        case 4: {
                Containerd__Task__V2__ExecProcessRequest r =
                    CONTAINERD__TASK__V2__EXEC_PROCESS_REQUEST__INIT;
                Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
                any.type_url = "types.containerd.io/opencontainers/runtime-spec/1/Process";
                any.value.data = (a & 0x80) ? bad_spec : good_spec;
                any.value.len = strlen((char *)any.value.data);
                r.id = id;
                r.exec_id = exec_id;
                r.spec = (a & 0x40) ? NULL : &any;
                send_call(fd, "Exec", &r.base);
                break;
        }
        case 5:
        case 6: {
                Containerd__Task__V2__StateRequest r = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
                r.id = id;
                r.exec_id = exec_id;
                /* Wait and State share the message layout */
                send_call(fd, op % 22 == 5 ? "State" : "Wait", &r.base);
                break;
        }
        case 7: {
                Containerd__Task__V2__PidsRequest r = CONTAINERD__TASK__V2__PIDS_REQUEST__INIT;
                r.id = id;
                send_call(fd, "Pids", &r.base);
                break;
        }
        case 8:
        case 9: {
                Containerd__Task__V2__PauseRequest r = CONTAINERD__TASK__V2__PAUSE_REQUEST__INIT;
                r.id = id;
                send_call(fd, op % 22 == 8 ? "Pause" : "Resume", &r.base);
                break;
        }
        case 10: {
                Containerd__Task__V2__UpdateTaskRequest r =
                    CONTAINERD__TASK__V2__UPDATE_TASK_REQUEST__INIT;
                Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
                any.value.data = (uint8_t *)((a & 0x80) ? "[1]" : "{}");
                any.value.len = strlen((char *)any.value.data);
                r.id = id;
                r.resources = (a & 0x40) ? NULL : &any;
                send_call(fd, "Update", &r.base);
                break;
        }
        case 11: {
                Containerd__Task__V2__CheckpointTaskRequest r =
                    CONTAINERD__TASK__V2__CHECKPOINT_TASK_REQUEST__INIT;
                r.id = id;
                r.path = (a & 0x80) ? "rel" : "/tmp/ckpt";
                send_call(fd, "Checkpoint", &r.base);
                break;
        }
        case 12:
        case 15: {
                Containerd__Task__V2__StatsRequest r = CONTAINERD__TASK__V2__STATS_REQUEST__INIT;
                r.id = id;
                send_call(fd, op % 22 == 12 ? "Stats" : "Connect", &r.base);
                break;
        }
        case 13: {
                Containerd__Task__V2__ResizePtyRequest r =
                    CONTAINERD__TASK__V2__RESIZE_PTY_REQUEST__INIT;
                r.id = id;
                r.exec_id = exec_id;
                r.width = a;
                r.height = a;
                send_call(fd, "ResizePty", &r.base);
                break;
        }
        case 14: {
                Containerd__Task__V2__CloseIORequest r =
                    CONTAINERD__TASK__V2__CLOSE_IOREQUEST__INIT;
                r.id = id;
                r.exec_id = exec_id;
                r.stdin = a & 1;
                send_call(fd, "CloseIO", &r.base);
                break;
        }
        case 16: {
                Containerd__Task__V2__ShutdownRequest r =
                    CONTAINERD__TASK__V2__SHUTDOWN_REQUEST__INIT;
                r.id = id;
                send_call(fd, "Shutdown", &r.base);
                break;
        }
        case 17: /* a held backend operation completes, or fails */
                if (fz->fb.n_held) {
                        struct ps_err *e = NULL;
                        if (a & 1)
                                ps_err_set(&e, PS_UNKNOWN, "fuzzed failure");
                        fake_release(&fz->fb, a % fz->fb.n_held, e);
                }
                break;
        case 18: { /* a process exits on its own */
                struct ps_process *p = some_process(a);
                if (p && ps_process_live(p))
                        fake_exit(p, a);
                break;
        }
        case 19:
                fz->fb.mode = (enum fake_mode)(a % 3);
                break;
        case 20:
                fake_release_drains(&fz->fb);
                fz->fb.hold_drain = a & 1;
                break;
        default: { /* raw bytes: a broken frame */
                uint8_t junk[16];
                memset(junk, a, sizeof(junk));
                if (write(fd, junk, 1 + a % sizeof(junk)) < 0 && errno != EAGAIN)
                        return;
                break;
        }
        }
}

/* Lets the backend finish everything: held calls complete, drains end,
 * every live process exits; until nothing changes any more. */
static void settle(void)
{
        for (int round = 0; round < 64; round++) {
                struct ps_list *pos, *tmp;
                bool changed = false;

                fz->fb.mode = FAKE_OK;
                fz->fb.hold_drain = false;
                while (fz->fb.n_held) {
                        fake_release(&fz->fb, 0, NULL);
                        changed = true;
                }
                if (fz->fb.n_drains) {
                        fake_release_drains(&fz->fb);
                        changed = true;
                }
                ps_list_for_each_safe(pos, tmp, &fz->sbs.tasks.containers)
                {
                        struct ps_container *c = ps_list_entry(pos, struct ps_container, link);
                        struct ps_list *xp, *xt;

                        ps_list_for_each_safe(xp, xt, &c->execs)
                        {
                                struct ps_process *x = ps_list_entry(xp, struct ps_process, link);
                                if (ps_process_live(x)) {
                                        fake_exit(x, 0);
                                        changed = true;
                                }
                        }
                        if (ps_process_live(c->init)) {
                                fake_exit(c->init, 0);
                                changed = true;
                        }
                }
                if (!changed)
                        return;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        int fds[2];

        if (!fz)
                fz = fuzz_init();
        registry_init(fz);
        fz->stream = 1;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) < 0)
                abort();
        if (ttrpc_server_adopt(fz->srv, fds[0], NULL) < 0)
                abort();
        for (size_t i = 0; i + 1 < size && i < 512; i += 2) {
                step(fds[1], data[i], data[i + 1]);
                event_base_loop(fz->base, EVLOOP_NONBLOCK);
                drain(fds[1]);
        }
        settle();
        event_base_loop(fz->base, EVLOOP_NONBLOCK);
        drain(fds[1]);
        shutdown(fds[1], SHUT_WR);
        for (int i = 0; i < 100000 && ttrpc_server_connections(fz->srv); i++) {
                event_base_loop(fz->base, EVLOOP_NONBLOCK);
                drain(fds[1]);
        }
        if (ttrpc_server_connections(fz->srv))
                abort(); /* the server must notice the hang-up */
        close(fds[1]);
        /* what is left is freed by destroy, as when the shim exits */
        ps_sandboxes_destroy(&fz->sbs);
        return 0;
}
