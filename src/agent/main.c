/* podshim-agent: the guest side of a VM-isolated pod (docs/vm-backend.md).
 *
 *   podshim-agent [PORT]
 *
 * Serves podshim.agent.v1.Agent (agent/service.h) over ttrpc on the
 * virtio-serial port named PORT (default org.podshim.agent; a path
 * starting with '/' is opened as is), the one connection there is, on one
 * libevent loop. The guest has no udev to make /dev/virtio-ports/<name>,
 * and virtio_console adds its ports some time after the module loads, so
 * the agent looks the name up in /sys/class/virtio-ports itself, waiting
 * up to 10 s for it before its loop starts. The guest's tiny init
 * (scripts/vm-guest-init) execs it as pid 1 of the guest's root, so
 * returning from main -- after Shutdown, or on a fatal error -- ends the
 * VM: the kernel panics when init exits, panic=-1 reboots at once and QEMU
 * runs with -no-reboot. That is deliberate: the host sees a dead agent as
 * the VM's exit, through its reaper, and tears the pod down. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <event2/event.h>

#include "agent/containers.h"
#include "agent/service.h"
#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/version.h"
#include "core/reaper.h"
#include "ttrpc/server.h"

#define DEFAULT_PORT  "org.podshim.agent"
#define PORTS_DIR     "/sys/class/virtio-ports"
#define PORT_WAIT_MS  10000
#define PORT_RETRY_MS 10
#define CMDLINE       "/proc/cmdline"
#define BUNDLES_ARG   "podshim.bundles="
#define BUNDLES_TAG   "bundles" /* sandbox/vm/qemu.h PS_VM_BUNDLES_TAG */
#define CGROUP_DIR    "/sys/fs/cgroup"
#define DEFAULT_PATH  "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The /dev node of the virtio-serial port called `name`, or NULL. */
static char *port_node(const char *name)
{
        _cleanup_closedir_ DIR *d = opendir(PORTS_DIR);
        struct dirent *de;

        while (d && (de = readdir(d))) {
                _cleanup_free_ char *path = NULL, *text = NULL;
                char *node = NULL;

                if (de->d_name[0] == '.' ||
                    asprintf(&path, "%s/%s/name", PORTS_DIR, de->d_name) < 0)
                        continue;
                if (ps_read_file(path, 256, &text, NULL, NULL) < 0)
                        continue;
                text[strcspn(text, "\n")] = '\0';
                if (strcmp(text, name) == 0 && asprintf(&node, "/dev/%s", de->d_name) >= 0)
                        return node;
        }
        return NULL;
}

/* Opens the port, waiting for it to appear (before the loop runs). */
static int open_port(const char *port, struct ps_err **err)
{
        const struct timespec nap = {.tv_nsec = PORT_RETRY_MS * 1000000L};

        for (int waited = 0;; waited += PORT_RETRY_MS) {
                _cleanup_free_ char *node = port[0] == '/' ? strdup(port) : port_node(port);
                int fd = node ? open(node, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY) : -1;

                if (fd >= 0)
                        return fd;
                if (waited >= PORT_WAIT_MS)
                        return node ? ps_err_errno(err, errno, PS_UNKNOWN, "open %s", node)
                                    : ps_err_set(err, PS_NOT_FOUND, "no virtio-serial port %s",
                                                 port);
                nanosleep(&nap, NULL);
        }
}

/* The value of podshim.bundles= on the kernel command line, or NULL. */
static char *bundles_arg(void)
{
        _cleanup_free_ char *cmdline = NULL;
        char *tok, *save = NULL;

        if (ps_read_file(CMDLINE, 4096, &cmdline, NULL, NULL) < 0)
                return NULL;
        for (tok = strtok_r(cmdline, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
                if (strncmp(tok, BUNDLES_ARG, strlen(BUNDLES_ARG)) == 0 &&
                    tok[strlen(BUNDLES_ARG)] == '/')
                        return strdup(tok + strlen(BUNDLES_ARG));
        return NULL;
}

/* What containers need of the guest; outside a VM (tests), nothing of it.
 * *bundles is the shared bundle directory, mounted, or NULL. */
static int ready_guest(char **bundles, struct ps_err **err)
{
        struct statfs fs;

        setenv("PATH", DEFAULT_PATH, 0); /* the kernel gives init none */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                return ps_err_errno(err, errno, PS_INTERNAL, "PR_SET_CHILD_SUBREAPER");
        if (getpid() != 1)
                return 0;
        if (statfs(CGROUP_DIR, &fs) == 0 && fs.f_type != CGROUP2_SUPER_MAGIC &&
            mount("cgroup2", CGROUP_DIR, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                return ps_err_errno(err, errno, PS_INTERNAL, "mount cgroup2 on %s", CGROUP_DIR);
        *bundles = bundles_arg();
        if (!*bundles)
                return 0;
        if (ps_mkdir_p(*bundles, 0711, err) < 0)
                return -1;
        /* cache=mmap: nothing is cached but what a writable shared mapping
         * needs (cache=none refuses one with EINVAL: POSIX shm on CRI's
         * /dev/shm, SQLite's WAL index, any MAP_SHARED file of a rootfs);
         * lookups stay uncached as with none, so binds the host adds to
         * the share later are seen at once. */
        if (mount(BUNDLES_TAG, *bundles, "9p", MS_NOSUID | MS_NODEV,
                  "trans=virtio,version=9p2000.L,msize=262144,cache=mmap,access=client") < 0)
                return ps_err_errno(err, errno, PS_INTERNAL, "mount the bundles on %s", *bundles);
        ps_log_info("podshim-agent: bundles at %s", *bundles);
        return 0;
}

static void on_shutdown(void *data)
{
        struct event_base *base = data;

        /* after the current callback, which flushes the Shutdown reply */
        event_base_loopexit(base, NULL);
}

static int serve(const char *port, struct ps_err **err)
{
        struct ps_agent_service svc;
        struct ps_agent_containers *containers = NULL;
        _cleanup_free_ char *bundles = NULL;
        struct ps_reaper *reaper = NULL;
        struct ttrpc_server *srv = NULL;
        struct event_base *base;
        int fd, r = -1;

        base = event_base_new();
        if (!base)
                return ps_err_set(err, PS_INTERNAL, "cannot create the event loop");
        ps_agent_service_init(&svc, on_shutdown, base);
        if (ready_guest(&bundles, err) < 0 || !(reaper = ps_reaper_new(base, err)) ||
            !(containers = ps_agent_containers_new(base, reaper, bundles, NULL, NULL,
                                                   ps_agent_service_exit_queued, &svc, err)))
                goto out;
        ps_agent_service_set_containers(&svc, containers);
        svc.network = true; /* the guest's own namespace: the pod's network */
        srv = ttrpc_server_new(base, -1, &svc.svc, 1, err);
        if (!srv)
                goto out;
        fd = open_port(port, err);
        if (fd < 0)
                goto out;
        if (ttrpc_server_adopt_port(srv, fd, err) < 0)
                goto out;
        ps_log_info("podshim-agent %s: serving on %s", ps_build_version, port);
        if (event_base_dispatch(base) < 0) {
                ps_err_set(err, PS_INTERNAL, "event loop failed");
                goto out;
        }
        r = 0;
out:
        ttrpc_server_free(srv);
        ps_agent_containers_free(containers);
        ps_reaper_free(reaper);
        event_base_free(base);
        return r;
}

int main(int argc, char **argv)
{
        _cleanup_err_ struct ps_err *err = NULL;

        signal(SIGPIPE, SIG_IGN);
        ps_log_setup(PS_LOG_INFO, NULL, NULL);
        if (argc > 2) {
                fprintf(stderr, "usage: %s [PORT]\n", argv[0]);
                return 2;
        }
        if (serve(argc > 1 ? argv[1] : DEFAULT_PORT, &err) < 0) {
                ps_log_error("podshim-agent: %s", ps_err_msg(err));
                return 1;
        }
        ps_log_info("podshim-agent: shut down");
        return 0;
}
