/* libFuzzer target: the real Task service (api/task_service.c), the real
 * sandbox layer and task core, over the fake backend, driven through a real
 * ttrpc connection by a program the input encodes (the harness,
 * tests/fuzz/support/fuzz_harness.h, runs it and checks the end).
 *
 * Each input byte pair is one step: a Task API call with arguments picked
 * from small sets (so calls meet the same tasks and execs again), or what a
 * backend does on its own (a held operation completes or fails, a process
 * exits, the backend's mood changes), or a burst of raw bytes. After the
 * program every held operation is completed, every process exits, and the
 * peer hangs up; then the connection must be gone, every call answered or
 * cancelled, and the registry emptied by destroy without a leak (ASan/LSan
 * runs with it). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "api/task_service.h"
#include "containerd/task/v2/task.pb-c.h"
#include "fake_backend.h"
#include "fuzz_harness.h"
#include "sandbox/sandbox.h"

static const char *const ids[] = {"pod", "c1", "c2"};
static const char *const execs[] = {"x1", "x2", ""};

struct task_fuzz {
        struct fuzz_harness h;
        struct ps_task_service svc;
        struct ttrpc_service desc[PS_TASK_SERVICE_NAMES];
};

static void no_shutdown(void *data)
{
}

/* Both names of the service, v2 and v3, alternating with the stream id. */
static void task_call(struct task_fuzz *f, int fd, const char *method, const ProtobufCMessage *msg)
{
        fuzz_harness_call(&f->h, fd,
                          (f->h.stream & 2) ? "containerd.task.v3.Task" : "containerd.task.v2.Task",
                          method, msg);
}

static struct ps_process *some_process(struct task_fuzz *f, uint8_t a)
{
        return ps_tasks_process(&f->h.sbs.tasks, ids[a % 3], execs[(a / 3) % 3], NULL);
}

/* One step of the program: op and its argument byte. */
static void step(void *data, int fd, uint8_t op, uint8_t a)
{
        struct task_fuzz *f = data;
        char *id = (char *)(uintptr_t)ids[a % 3];
        char *exec_id = (char *)(uintptr_t)execs[(a / 3) % 3];
        static uint8_t good_spec[] = "{\"args\":[\"sleep\"],\"cwd\":\"/\"}";
        static uint8_t bad_spec[] = "{\"args\":[]}";
        char bundle[128];

        switch (op % 22) {
        case 0: {
                Containerd__Task__V2__CreateTaskRequest r =
                    CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
                snprintf(bundle, sizeof(bundle), "%s/%s", f->h.dir, id);
                r.id = id;
                r.bundle = (a & 0x80) ? "relative/bundle" : bundle;
                task_call(f, fd, "Create", &r.base);
                break;
        }
        case 1: {
                Containerd__Task__V2__StartRequest r = CONTAINERD__TASK__V2__START_REQUEST__INIT;
                r.id = id;
                r.exec_id = exec_id;
                task_call(f, fd, "Start", &r.base);
                break;
        }
        case 2: {
                Containerd__Task__V2__DeleteRequest r = CONTAINERD__TASK__V2__DELETE_REQUEST__INIT;
                r.id = id;
                r.exec_id = exec_id;
                task_call(f, fd, "Delete", &r.base);
                break;
        }
        case 3: {
                Containerd__Task__V2__KillRequest r = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;
                r.id = id;
                r.exec_id = exec_id;
                r.signal = (a & 0x40) ? 9 : (a & 0x20) ? 0 : 15;
                r.all = a & 0x80;
                task_call(f, fd, "Kill", &r.base);
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
                task_call(f, fd, "Exec", &r.base);
                break;
        }
        case 5:
        case 6: {
                Containerd__Task__V2__StateRequest r = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
                r.id = id;
                r.exec_id = exec_id;
                /* Wait and State share the message layout */
                task_call(f, fd, op % 22 == 5 ? "State" : "Wait", &r.base);
                break;
        }
        case 7: {
                Containerd__Task__V2__PidsRequest r = CONTAINERD__TASK__V2__PIDS_REQUEST__INIT;
                r.id = id;
                task_call(f, fd, "Pids", &r.base);
                break;
        }
        case 8:
        case 9: {
                Containerd__Task__V2__PauseRequest r = CONTAINERD__TASK__V2__PAUSE_REQUEST__INIT;
                r.id = id;
                task_call(f, fd, op % 22 == 8 ? "Pause" : "Resume", &r.base);
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
                task_call(f, fd, "Update", &r.base);
                break;
        }
        case 11: {
                Containerd__Task__V2__CheckpointTaskRequest r =
                    CONTAINERD__TASK__V2__CHECKPOINT_TASK_REQUEST__INIT;
                r.id = id;
                r.path = (a & 0x80) ? "rel" : "/tmp/ckpt";
                task_call(f, fd, "Checkpoint", &r.base);
                break;
        }
        case 12:
        case 15: {
                Containerd__Task__V2__StatsRequest r = CONTAINERD__TASK__V2__STATS_REQUEST__INIT;
                r.id = id;
                task_call(f, fd, op % 22 == 12 ? "Stats" : "Connect", &r.base);
                break;
        }
        case 13: {
                Containerd__Task__V2__ResizePtyRequest r =
                    CONTAINERD__TASK__V2__RESIZE_PTY_REQUEST__INIT;
                r.id = id;
                r.exec_id = exec_id;
                r.width = a;
                r.height = a;
                task_call(f, fd, "ResizePty", &r.base);
                break;
        }
        case 14: {
                Containerd__Task__V2__CloseIORequest r =
                    CONTAINERD__TASK__V2__CLOSE_IOREQUEST__INIT;
                r.id = id;
                r.exec_id = exec_id;
                r.stdin = a & 1;
                task_call(f, fd, "CloseIO", &r.base);
                break;
        }
        case 16: {
                Containerd__Task__V2__ShutdownRequest r =
                    CONTAINERD__TASK__V2__SHUTDOWN_REQUEST__INIT;
                r.id = id;
                task_call(f, fd, "Shutdown", &r.base);
                break;
        }
        case 17: /* a held backend operation completes, or fails */
                fuzz_harness_release(&f->h, a);
                break;
        case 18: { /* a process exits on its own */
                struct ps_process *p = some_process(f, a);
                if (p && ps_process_live(p))
                        fake_exit(p, a);
                break;
        }
        case 19:
                fuzz_harness_mood(&f->h, a);
                break;
        case 20:
                fuzz_harness_drains(&f->h, a);
                break;
        default: /* raw bytes: a broken frame */
                fuzz_harness_junk(fd, a);
                break;
        }
}

/* Every live process exits, the execs before their container's init. */
static bool exit_rest(void *data)
{
        struct task_fuzz *f = data;
        struct ps_list *pos, *tmp;
        bool changed = false;

        ps_list_for_each_safe(pos, tmp, &f->h.sbs.tasks.containers)
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
        return changed;
}

static const struct fuzz_target target = {
    .dir_template = "/tmp/ps-fuzz-XXXXXX",
    .sandbox_events = NULL,
    .step = step,
    .exit_rest = exit_rest,
};

static struct task_fuzz *fuzz_init(void)
{
        static struct task_fuzz st;

        fuzz_harness_init(&st.h, &target, &st);
        for (size_t i = 0; i < 3; i++)
                fuzz_harness_bundle(&st.h, ids[i], i == 0 ? "sandbox" : "container");
        /* grouped: a Shutdown is remembered until the last Delete */
        ps_task_service_init(&st.svc, &st.h.sbs, true, no_shutdown, NULL);
        ps_task_service_describe(&st.svc, st.desc);
        fuzz_harness_serve(&st.h, st.desc, PS_TASK_SERVICE_NAMES);
        return &st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct task_fuzz *f;

        if (!f)
                f = fuzz_init();
        fuzz_harness_run(&f->h, data, size);
        return 0;
}
