/* The sandbox layer over the fake backend: which tasks a Create puts in
 * which pod, and the teardown that follows the end of a pod's own task,
 * which must touch that pod's members only, however many pods share the
 * shim. Bundles are real directories with a config.json (the layer reads
 * the annotations from there). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "check.h"
#include "fake_backend.h"
#include "oci/options.h"
#include "sandbox/sandbox.h"

static char dir[64];
static struct fake_backend fb;
static struct fake_events ev;
static struct ps_sandboxes sbs;

static void on_done(void *data, struct ps_err *err, const struct ps_op_result *res)
{
        CHECK(err == NULL);
        ps_err_free(err);
}

/* Makes the bundle <dir>/<id> (its path in `bundle`) with a config.json
 * carrying the CRI annotations (kind "sandbox" or "container", pod the
 * sandbox id). */
static void write_bundle(char *bundle, size_t size, const char *id, const char *kind,
                         const char *pod)
{
        char path[160];
        FILE *f;

        snprintf(bundle, size, "%s/%s", dir, id);
        CHECK(mkdir(bundle, 0700) == 0);
        snprintf(path, sizeof(path), "%s/config.json", bundle);
        f = fopen(path, "w");
        CHECK(f != NULL);
        fprintf(f,
                "{\"process\":{\"args\":[\"x\"],\"cwd\":\"/\"},\"root\":{\"path\":\"rootfs\"},"
                "\"annotations\":{\"io.kubernetes.cri.container-type\":\"%s\"%s%s%s}}",
                kind, pod ? ",\"io.kubernetes.cri.sandbox-id\":\"" : "", pod ? pod : "",
                pod ? "\"" : "");
        fclose(f);
}

/* Creates the task of write_bundle's bundle. */
static struct ps_container *create(const char *id, const char *kind, const char *pod)
{
        char bundle[128];
        struct ps_create_request req;
        _cleanup_err_ struct ps_err *e = NULL;

        write_bundle(bundle, sizeof(bundle), id, kind, pod);
        req = fake_request(id, bundle);
        CHECK(ps_sandboxes_create_task(&sbs, &req, on_done, NULL, &e) == 0);
        if (e)
                fprintf(stderr, "create %s: %s\n", id, ps_err_msg(e));
        return ps_tasks_find(&sbs.tasks, id);
}

static void start(struct ps_container *c)
{
        _cleanup_err_ struct ps_err *e = NULL;

        CHECK(ps_process_start(c->init, on_done, NULL, &e) == 0);
}

static void setup(void)
{
        snprintf(dir, sizeof(dir), "/tmp/ps-sandbox-XXXXXX");
        CHECK(mkdtemp(dir) != NULL);
        fake_backend_init(&fb);
        fake_events_init(&ev);
        ps_sandboxes_init(&sbs, &ev.sink, NULL, NULL, NULL, "test", dir);
        sbs.pod_ops = &fb.ops;
        sbs.container_ops = &fb.ops;
        sbs.be_ctx = &fb;
}

static void teardown(void)
{
        char cmd[128];

        ps_tasks_destroy(&sbs.tasks);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        CHECK(system(cmd) == 0);
}

static void test_membership(void)
{
        setup();
        struct ps_container *a = create("poda", "sandbox", "poda");
        struct ps_container *a1 = create("a1", "container", "poda");
        struct ps_container *lone = create("lone", "container", NULL);
        struct ps_container *stray = create("stray", "container", "nosuchpod");

        CHECK(a && a1 && lone && stray);
        CHECK(ps_sandboxes_find(&sbs, "poda") != NULL);
        CHECK(a->sandbox == ps_sandboxes_find(&sbs, "poda"));
        CHECK(ps_sandbox_is_own_task(a) && !ps_sandbox_is_own_task(a1));
        CHECK(a1->sandbox == a->sandbox);
        CHECK(lone->sandbox == NULL && stray->sandbox == NULL);
        teardown();
}

static void test_teardown_touches_only_its_pod(void)
{
        setup();
        struct ps_container *a = create("poda", "sandbox", "poda");
        struct ps_container *a1 = create("a1", "container", "poda");
        struct ps_container *a2 = create("a2", "container", "poda"); /* created, not started */
        struct ps_container *b = create("podb", "sandbox", "podb");
        struct ps_container *b1 = create("b1", "container", "podb");
        struct ps_container *lone = create("lone", "container", NULL);

        start(a);
        start(a1);
        start(b);
        start(b1);
        start(lone);
        fb.log[0] = '\0';
        fake_exit(a->init, 137); /* pod A's infra process died */
        CHECK(strstr(fb.log, "signal a1 9 all") != NULL);
        CHECK(strstr(fb.log, "signal a2 9 all") != NULL);
        CHECK(strstr(fb.log, "b1") == NULL && strstr(fb.log, "podb") == NULL);
        CHECK(strstr(fb.log, "lone") == NULL);
        CHECK(ps_sandboxes_find(&sbs, "poda")->exited);
        CHECK(!ps_sandboxes_find(&sbs, "podb")->exited);
        (void)a2;
        teardown();
}

static void test_sandbox_goes_with_its_task(void)
{
        _cleanup_err_ struct ps_err *e = NULL;

        setup();
        struct ps_container *a = create("poda", "sandbox", "poda");
        struct ps_container *a1 = create("a1", "container", "poda");

        start(a);
        fake_exit(a->init, 0);
        CHECK(ps_process_delete(a->init, on_done, NULL, &e) == 0);
        CHECK(ps_sandboxes_find(&sbs, "poda") == NULL);
        CHECK(a1->sandbox == NULL); /* a member deleted later runs on alone */
        teardown();
}

/* A container of a handler whose options say Backend = "vm" runs only in
 * a VM: in a pod the shim does not know or in a pod on the host it is
 * refused (UNIMPLEMENTED); on its own it gets a VM of its own
 * (sandbox/vm/solo.h), here refused for options that name no kernel:
 * never run on the host. */
static void test_vm_member_outside_a_vm_pod(void)
{
        static char vm[] = "vm";
        struct ps_options opts = {.backend = vm};
        const char *const pods[] = {NULL, "nosuchpod", "hostpod"};
        const int codes[] = {PS_INVALID_ARGUMENT, PS_UNIMPLEMENTED, PS_UNIMPLEMENTED};

        setup();
        CHECK(create("hostpod", "sandbox", "hostpod") != NULL);
        for (size_t i = 0; i < sizeof(pods) / sizeof(pods[0]); i++) {
                _cleanup_err_ struct ps_err *e = NULL;
                struct ps_create_request req;
                char bundle[128], id[16];

                snprintf(id, sizeof(id), "vmc%zu", i);
                write_bundle(bundle, sizeof(bundle), id, "container", pods[i]);
                req = fake_request(id, bundle);
                req.options = &opts;
                CHECK(ps_sandboxes_create_task(&sbs, &req, on_done, NULL, &e) < 0);
                CHECK(e && (int)e->code == codes[i] && strstr(ps_err_msg(e), "vm"));
                CHECK(ps_tasks_find(&sbs.tasks, id) == NULL);
        }
        teardown();
}

/* A VM's root is the directory podshim-vm-image built for guests, never
 * the host's /: options without VMRoot are refused naming the key and the
 * tool, and a root without the agent the guest would exec is refused
 * naming both paths, before anything is made or spawned. */
static void test_vm_needs_its_root(void)
{
        static char vm[] = "vm", kernel[] = "/boot/vmlinuz-x", initrd[] = "/i.gz",
                    agent[] = "/usr/bin/podshim-agent";
        char root[] = "/tmp/podshim-test-root.XXXXXX";
        struct ps_options opts = {
            .backend = vm, .vm_kernel = kernel, .vm_initrd = initrd, .vm_agent = agent};
        const char *const want[] = {"VMRoot", "holds no agent at /usr/bin/podshim-agent"};
        const int codes[] = {PS_INVALID_ARGUMENT, PS_FAILED_PRECONDITION};

        CHECK(mkdtemp(root) != NULL);
        setup();
        for (size_t i = 0; i < 2; i++) {
                _cleanup_err_ struct ps_err *e = NULL;
                struct ps_create_request req;
                char bundle[128], id[16];

                opts.vm_root = i == 0 ? NULL : root;
                snprintf(id, sizeof(id), "vmroot%zu", i);
                write_bundle(bundle, sizeof(bundle), id, "container", NULL);
                req = fake_request(id, bundle);
                req.options = &opts;
                CHECK(ps_sandboxes_create_task(&sbs, &req, on_done, NULL, &e) < 0);
                CHECK(e && (int)e->code == codes[i]);
                CHECK(e && strstr(ps_err_msg(e), want[i]) &&
                      strstr(ps_err_msg(e), "podshim-vm-image"));
                CHECK(ps_tasks_find(&sbs.tasks, id) == NULL);
        }
        teardown();
        rmdir(root);
}

int main(void)
{
        RUN(test_membership);
        RUN(test_teardown_touches_only_its_pod);
        RUN(test_sandbox_goes_with_its_task);
        RUN(test_vm_member_outside_a_vm_pod);
        RUN(test_vm_needs_its_root);
        return check_summary();
}
