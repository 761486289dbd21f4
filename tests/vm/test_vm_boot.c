/* Boots real pod VMs through the host side of the vm backend
 * (sandbox/vm/vm.h) and talks to the real podshim-agent inside them.
 *
 *   test_vm_boot KERNEL INITRAMFS ROOT [ACCEL [CPU]]
 *
 * KERNEL, INITRAMFS and ROOT are scripts/vm-initramfs.sh's line, ACCEL tcg
 * (the default) or kvm and CPU the -cpu model (scripts/qemu-accel.sh's
 * choice). The agent is the podshim-agent next to this binary, which the
 * root must hold at the same path (PODSHIM_VM_AGENT=<it> for the script). Not a ctest test (a boot
 * under TCG takes seconds): scripts/test-all.sh runs it as the "vm boot" stage.
 * PODSHIM_VM_CONSOLE=DIR keeps each guest's serial console there.
 *
 *  - boot_hello_sigkill: Hello answers from another kernel (its boot id is
 *    not the host's) of the release we booted, with the agent as the
 *    guest's pid 1; then SIGKILL of QEMU reaches us through the reaper and
 *    the run directory and its socket are gone.
 *  - shutdown_ends_vm: the agent exits on a real request (Shutdown), which
 *    ends the guest and QEMU on its own (exit status 0, no signal).
 *  - vm_pod_task: the sandbox layer with Backend = "vm" in the options: the
 *    pod's own task's Create boots the VM and answers with QEMU's pid, a
 *    member asking for a restore is refused (UNIMPLEMENTED, not built yet;
 *    real containers in the VM are tests/e2e/test_vm_pods.py's), and
 *    SIGKILL of QEMU is the pod task's exit (TaskExit 137) with the run
 *    directory gone.
 * Each prints its boot time (spawn to Hello answered) and QEMU's PSS after
 * the boot; the first also QEMU's PSS 5 s later, once the guest has given
 * back what it freed while booting. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <event2/event.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/version.h"
#include "check.h"
#include "core/reaper.h"
#include "fake_backend.h"
#include "oci/options.h"
#include "sandbox/sandbox.h"
#include "sandbox/vm/vm.h"

#define BOOT_TIMEOUT_MS 120000
#define EXIT_TIMEOUT_S  60
/* the guest reports the pages it freed while booting after ~2 s */
#define SETTLE_S 5

static struct ps_vm_config config;
static char agent_path[PATH_MAX];
static char kernel_release[128]; /* from the kernel's file name */
static char host_boot_id[64];
static char scratch[] = "/tmp/podshim-vm-test.XXXXXX";

struct seen {
        struct event_base *base;
        int ready, exited, status;
        char boot_id[64], release[128], version[64];
        uint32_t pid;
        char why[256];
};

static void on_ready(void *data, struct ps_vm *vm, const struct ps_agent_hello *h)
{
        struct seen *s = data;

        (void)vm;
        s->ready++;
        snprintf(s->boot_id, sizeof(s->boot_id), "%s", h->boot_id);
        snprintf(s->release, sizeof(s->release), "%s", h->kernel_release);
        snprintf(s->version, sizeof(s->version), "%s", h->version);
        s->pid = h->pid;
        event_base_loopbreak(s->base);
}

static void on_exited(void *data, struct ps_vm *vm, int status, const struct ps_err *why)
{
        struct seen *s = data;

        (void)vm;
        s->exited++;
        s->status = status;
        snprintf(s->why, sizeof(s->why), "%s", why ? ps_err_msg(why) : "");
        event_base_loopbreak(s->base);
}

/* Runs the loop until a callback breaks it or `secs` pass. */
static void run_until(struct event_base *base, int secs)
{
        struct timeval tv = {.tv_sec = secs};

        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
}

/* QEMU's proportional set size, from smaps_rollup. */
static long pss_kib(pid_t pid)
{
        _cleanup_free_ char *text = NULL;
        char path[64];
        const char *p;

        snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
        if (ps_read_file(path, 1 << 16, &text, NULL, NULL) < 0)
                return -1;
        p = strstr(text, "\nPss:");
        return p ? strtol(p + 5, NULL, 10) : -1;
}

static bool exists(const char *path)
{
        struct stat st;

        return lstat(path, &st) == 0 || errno != ENOENT;
}

/* Boots one VM and waits for the agent's Hello. */
static struct ps_vm *boot(struct event_base *base, struct ps_reaper *r, struct seen *s,
                          const char *name, char *dir, size_t dir_len)
{
        _cleanup_err_ struct ps_err *err = NULL;
        struct ps_vm_events ev = {.ready = on_ready, .exited = on_exited, .data = s};
        const char *console_dir = getenv("PODSHIM_VM_CONSOLE");
        char console[PATH_MAX];
        struct ps_vm *vm;

        snprintf(dir, dir_len, "%s/%s", scratch, name);
        if (console_dir) {
                snprintf(console, sizeof(console), "%s/%s.console", console_dir, name);
                config.console = console;
        }
        vm = ps_vm_start(base, r, &config, dir, BOOT_TIMEOUT_MS, &ev, &err);
        config.console = NULL;
        if (!vm) {
                fprintf(stderr, "%s: %s\n", name, ps_err_msg(err));
                return NULL;
        }
        CHECK(exists(dir));
        run_until(base, BOOT_TIMEOUT_MS / 1000 + 10);
        if (!s->ready)
                fprintf(stderr, "%s: no Hello (exited %d: %s)\n", name, s->exited, s->why);
        else
                printf("%s: boot %.2f s (spawn to Hello answered, %s), QEMU PSS %ld KiB\n", name,
                       (double)ps_vm_boot_usec(vm) / 1e6, config.accel, pss_kib(ps_vm_pid(vm)));
        return vm;
}

static void test_boot_hello_sigkill(void)
{
        struct event_base *base = event_base_new();
        _cleanup_err_ struct ps_err *err = NULL;
        struct ps_reaper *r = ps_reaper_new(base, &err);
        struct seen s = {.base = base};
        char dir[PATH_MAX], sock[PATH_MAX + 16];
        struct ps_vm *vm = boot(base, r, &s, "sigkill", dir, sizeof(dir));

        CHECK(vm != NULL);
        if (!vm)
                goto out;
        CHECK_INTEQ(s.ready, 1);
        CHECK(s.boot_id[0] != '\0');
        CHECK(strcmp(s.boot_id, host_boot_id) != 0);
        CHECK_STREQ(s.release, kernel_release);
        CHECK_STREQ(s.version, ps_build_version);
        CHECK_INTEQ(s.pid, 1);
        snprintf(sock, sizeof(sock), "%s/%s", dir, PS_VM_AGENT_SOCKET);
        CHECK(exists(sock));
        run_until(base, SETTLE_S); /* a measurement, not a check */
        CHECK_INTEQ(s.exited, 0);
        printf("sigkill: QEMU PSS %ld KiB %d s after the boot\n", pss_kib(ps_vm_pid(vm)), SETTLE_S);
        CHECK(ps_vm_kill(vm, SIGKILL, &err) == 0);
        run_until(base, EXIT_TIMEOUT_S);
        CHECK_INTEQ(s.exited, 1);
        CHECK(WIFSIGNALED(s.status) && WTERMSIG(s.status) == SIGKILL);
        CHECK_STREQ(s.why, "");
        CHECK_INTEQ(ps_vm_pid(vm), 0);
        CHECK(!exists(sock));
        CHECK(!exists(dir));
        CHECK(ps_vm_kill(vm, SIGKILL, NULL) < 0); /* gone: nothing to signal */
out:
        ps_vm_free(vm);
        ps_reaper_free(r);
        event_base_free(base);
}

static void test_shutdown_ends_vm(void)
{
        struct event_base *base = event_base_new();
        _cleanup_err_ struct ps_err *err = NULL;
        struct ps_reaper *r = ps_reaper_new(base, &err);
        struct seen s = {.base = base};
        char dir[PATH_MAX];
        struct ps_vm *vm = boot(base, r, &s, "shutdown", dir, sizeof(dir));

        CHECK(vm != NULL);
        if (!vm)
                goto out;
        CHECK_INTEQ(s.ready, 1);
        CHECK(ps_vm_shutdown(vm, &err) == 0);
        run_until(base, EXIT_TIMEOUT_S);
        CHECK_INTEQ(s.exited, 1);
        /* QEMU ended by itself: the guest's init exited, the kernel
         * panicked and rebooted, and -no-reboot made that QEMU's exit */
        CHECK(WIFEXITED(s.status) && WEXITSTATUS(s.status) == 0);
        CHECK(!exists(dir));
out:
        ps_vm_free(vm);
        ps_reaper_free(r);
        event_base_free(base);
}

struct pod_seen {
        int created, started;
        pid_t pid;
        char err[256];
};

static void on_pod_op(void *data, struct ps_err *err, const struct ps_op_result *res)
{
        struct pod_seen *s = data;

        if (err)
                snprintf(s->err, sizeof(s->err), "%s", ps_err_msg(err));
        else
                s->pid = res->pid;
        s->created++;
        ps_err_free(err);
}

static void on_member(void *data, struct ps_err *err, const struct ps_op_result *res)
{
        ps_err_free(err);
        CHECK(!"a member of a vm pod must be refused at once");
}

/* Runs the loop in 100 ms slices until *flag is set or `secs` pass. */
static void run_until_set(struct event_base *base, const int *flag, int secs)
{
        for (int i = 0; i < secs * 10 && !*flag; i++) {
                struct timeval tv = {.tv_usec = 100000};

                event_base_loopexit(base, &tv);
                event_base_dispatch(base);
        }
}

static void write_bundle(const char *bundle, const char *kind, const char *pod)
{
        char path[PATH_MAX];
        FILE *f;

        CHECK(mkdir(bundle, 0700) == 0);
        snprintf(path, sizeof(path), "%s/config.json", bundle);
        f = fopen(path, "w");
        CHECK(f != NULL);
        if (!f)
                return;
        fprintf(f,
                "{\"process\":{\"args\":[\"x\"],\"cwd\":\"/\"},\"root\":{\"path\":\"rootfs\"},"
                "\"annotations\":{\"io.kubernetes.cri.container-type\":\"%s\","
                "\"io.kubernetes.cri.sandbox-id\":\"%s\"}}",
                kind, pod);
        fclose(f);
}

static void test_vm_pod_task(void)
{
        struct event_base *base = event_base_new();
        _cleanup_err_ struct ps_err *err = NULL, *merr = NULL;
        struct ps_reaper *r = ps_reaper_new(base, &err);
        struct ps_options opts = {.backend = (char *)PS_BACKEND_VM,
                                  .vm_kernel = (char *)config.kernel,
                                  .vm_initrd = (char *)config.initrd,
                                  .vm_root = (char *)config.root,
                                  .vm_agent = agent_path,
                                  .vm_accel = (char *)config.accel,
                                  .vm_cpu = (char *)config.cpu};
        struct pod_seen created = {0}, started = {0};
        char bundle[PATH_MAX], member[PATH_MAX], run_dir[PATH_MAX];
        struct ps_create_request req;
        struct fake_events ev;
        struct ps_sandboxes sbs;
        struct ps_container *c;
        int exited = 0;

        fake_events_init(&ev);
        ps_sandboxes_init(&sbs, &ev.sink, NULL, base, r, "test", scratch);
        snprintf(run_dir, sizeof(run_dir), "%s/run", scratch);
        sbs.vm.run_dir = run_dir;
        snprintf(bundle, sizeof(bundle), "%s/vmpod", scratch);
        write_bundle(bundle, "sandbox", "vmpod");
        req = fake_request("vmpod", bundle);
        req.options = &opts;
        CHECK(ps_sandboxes_create_task(&sbs, &req, on_pod_op, &created, &err) == 0);
        c = ps_tasks_find(&sbs.tasks, "vmpod");
        CHECK(c != NULL);
        run_until_set(base, &created.created, BOOT_TIMEOUT_MS / 1000);
        CHECK_STREQ(created.err, "");
        CHECK(created.pid > 0 && kill(created.pid, 0) == 0);
        printf("vm_pod_task: the pod task's Create answered with QEMU's pid %d\n",
               (int)created.pid);

        /* a restore in a vm pod: not built yet */
        snprintf(member, sizeof(member), "%s/c1", scratch);
        write_bundle(member, "container", "vmpod");
        req = fake_request("c1", member);
        req.options = &opts;
        req.checkpoint = "/nonexistent/podshim-checkpoint";
        CHECK(ps_sandboxes_create_task(&sbs, &req, on_member, NULL, &merr) < 0);
        CHECK(merr && merr->code == PS_UNIMPLEMENTED);

        if (c && created.pid > 0) {
                CHECK(ps_process_start(c->init, on_pod_op, &started, &err) == 0);
                run_until_set(base, &started.created, 10);
                CHECK_INTEQ(started.pid, created.pid);
                CHECK(kill(created.pid, SIGKILL) == 0);
                for (int i = 0; i < EXIT_TIMEOUT_S * 10 && !exited; i++) {
                        run_until(base, 0);
                        exited = ps_process_exited(c->init);
                        if (!exited)
                                usleep(100000);
                }
                CHECK(exited);
                CHECK(strstr(ev.log, "exit vmpod 137") != NULL);
                CHECK(!exists(run_dir) || rmdir(run_dir) == 0); /* only the empty parent */
        }
        if (!exited)
                fprintf(stderr, "events: %s\n", ev.log);
        ps_sandboxes_destroy(&sbs);
        ps_reaper_free(r);
        event_base_free(base);
}

static int setup(int argc, char **argv)
{
        _cleanup_free_ char *id = NULL;
        char self[PATH_MAX];
        const char *base;
        size_t len;
        ssize_t n;

        if (argc < 4 || argc > 6) {
                fprintf(stderr, "usage: %s KERNEL INITRAMFS ROOT [tcg|kvm [CPU]]\n", argv[0]);
                return -1;
        }
        base = strrchr(argv[1], '/');
        base = base ? base + 1 : argv[1];
        /* /boot's vmlinuz-RELEASE, or the ELF scripts/vm-initramfs.sh
         * extracts from it, vmlinux-RELEASE-HASH (16 hex digits) */
        len = strlen(base);
        if (strncmp(base, "vmlinuz-", 8) == 0) {
                snprintf(kernel_release, sizeof(kernel_release), "%s", base + 8);
        } else if (strncmp(base, "vmlinux-", 8) == 0 && len > 8 + 17 && base[len - 17] == '-') {
                snprintf(kernel_release, sizeof(kernel_release), "%.*s", (int)(len - 8 - 17),
                         base + 8);
        } else {
                fprintf(stderr,
                        "%s: the kernel must be named vmlinuz-RELEASE or vmlinux-RELEASE-HASH\n",
                        argv[1]);
                return -1;
        }
        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n < 0)
                return -1;
        self[n] = '\0';
        snprintf(agent_path, sizeof(agent_path), "%s/podshim-agent", dirname(self));
        {
                struct stat st, in_root;
                char copy[2 * PATH_MAX];

                /* the guest runs the root's copy: it must be this build's */
                snprintf(copy, sizeof(copy), "%s%s", argv[3], agent_path);
                if (stat(agent_path, &st) < 0 || stat(copy, &in_root) < 0 ||
                    st.st_size != in_root.st_size) {
                        fprintf(stderr,
                                "%s: no copy of %s in it: PODSHIM_VM_AGENT=%s "
                                "scripts/vm-initramfs.sh makes one\n",
                                argv[3], agent_path, agent_path);
                        return -1;
                }
        }
        if (ps_read_file("/proc/sys/kernel/random/boot_id", 64, &id, NULL, NULL) < 0)
                return -1;
        id[strcspn(id, "\n")] = '\0';
        snprintf(host_boot_id, sizeof(host_boot_id), "%s", id);
        if (!mkdtemp(scratch))
                return -1;
        config = (struct ps_vm_config){.kernel = argv[1],
                                       .initrd = argv[2],
                                       .root = argv[3],
                                       .agent = agent_path,
                                       .accel = argc > 4 ? argv[4] : "tcg",
                                       .cpu = argc > 5 ? argv[5] : NULL,
                                       .stderr_fd = 2};
        return 0;
}

int main(int argc, char **argv)
{
        int rc;

        signal(SIGPIPE, SIG_IGN);
        ps_log_setup(getenv("PODSHIM_VM_DEBUG") ? PS_LOG_DEBUG : PS_LOG_WARN, NULL, NULL);
        if (setup(argc, argv) < 0)
                return 2;
        RUN(test_boot_hello_sigkill);
        RUN(test_shutdown_ends_vm);
        RUN(test_vm_pod_task);
        rc = check_summary();
        {
                char cmd[PATH_MAX + 16];

                snprintf(cmd, sizeof(cmd), "rm -rf %s", scratch);
                if (system(cmd) != 0)
                        rc = 1;
        }
        return rc;
}
