/* Runtime options: the three wire forms containerd sends (api/options.h),
 * podshim's TOML config as a file or inline (oci/options.h), and the copy
 * kept in the bundle. Whatever podshim would not apply must be refused by
 * name, never ignored. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/options.h"
#include "base/cleanup.h"
#include "base/fs.h"
#include "check.h"
#include "scratch.h"
#include "containerd/runc/legacy.pb-c.h"
#include "containerd/runc/options.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "oci/options.h"
#include "runtimeoptions/options.pb-c.h"
#include "shim/profile.h"

static char tmpdir[64];

static bool msg_has(const struct ps_err *e, const char *needle)
{
        if (e && strstr(ps_err_msg(e), needle))
                return true;
        fprintf(stderr, "  message '%s' lacks '%s'\n", e ? ps_err_msg(e) : "(no error)", needle);
        return false;
}

static void test_options_runc_v1(void)
{
        Containerd__Runc__V1__Options m = CONTAINERD__RUNC__V1__OPTIONS__INIT;
        struct ps_options o = {0};
        uint8_t buf[256];
        size_t len;

        m.binary_name = "crun";
        m.root = "/run/r";
        m.systemd_cgroup = 1;
        m.shim_cgroup = "/podshim";
        m.io_uid = 1000;
        m.no_pivot_root = 1;
        len = containerd__runc__v1__options__pack(&m, buf);
        CHECK_INTEQ(ps_options_decode("containerd.runc.v1.Options", buf, len, &o, NULL), 0);
        CHECK_STREQ(o.binary_name, "crun");
        CHECK_STREQ(o.root, "/run/r");
        CHECK_STREQ(o.shim_cgroup, "/podshim");
        CHECK(o.systemd_cgroup && o.no_pivot_root && !o.no_new_keyring);
        CHECK_INTEQ(o.io_uid, 1000);
        CHECK(o.criu_path == NULL);
        ps_options_clear(&o);

        /* the same message behind a googleapis prefix; empty strings = defaults */
        m.binary_name = "";
        m.root = "";
        len = containerd__runc__v1__options__pack(&m, buf);
        CHECK_INTEQ(
            ps_options_decode("type.googleapis.com/containerd.runc.v1.Options", buf, len, &o, NULL),
            0);
        CHECK_STREQ(o.binary_name, PS_DEFAULT_RUNTIME);
        CHECK_STREQ(o.root, PS_DEFAULT_RUNTIME_ROOT);
        ps_options_clear(&o);
}

static void test_options_legacy_and_defaults(void)
{
        Containerd__Linux__Runc__CreateOptions m = CONTAINERD__LINUX__RUNC__CREATE_OPTIONS__INIT;
        struct ps_options o = {0};
        struct ps_err *e = NULL;
        uint8_t buf[256], junk[] = {0xff, 0xff, 0xff};
        size_t len;

        m.shim_cgroup = "/shim";
        m.io_gid = 7;
        m.no_new_keyring = 1;
        len = containerd__linux__runc__create_options__pack(&m, buf);
        CHECK_INTEQ(ps_options_decode("containerd.linux.runc.CreateOptions", buf, len, &o, NULL),
                    0);
        CHECK_STREQ(o.shim_cgroup, "/shim");
        CHECK_STREQ(o.binary_name, "runc");
        CHECK_INTEQ(o.io_gid, 7);
        CHECK(o.no_new_keyring);
        ps_options_clear(&o);

        CHECK_INTEQ(ps_options_decode(NULL, NULL, 0, &o, NULL), 0);
        CHECK_STREQ(o.binary_name, "runc");
        CHECK_STREQ(o.root, PS_DEFAULT_RUNTIME_ROOT);
        ps_options_clear(&o);

        CHECK_INTEQ(ps_options_decode("containerd.foo.Bar", buf, len, &o, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        e = ps_err_free(e);
        CHECK_INTEQ(ps_options_decode("containerd.runc.v1.Options", junk, sizeof(junk), &o, &e),
                    -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        ps_err_free(e);
}

static int decode_config(const char *toml, struct ps_options *o, struct ps_err **err)
{
        Runtimeoptions__V1__Options m = RUNTIMEOPTIONS__V1__OPTIONS__INIT;
        _cleanup_free_ char *path = NULL;
        uint8_t buf[256];
        size_t len;

        if (asprintf(&path, "%s/podshim.toml", tmpdir) < 0 ||
            ps_write_file_atomic(path, toml, strlen(toml), 0644, NULL) < 0)
                return -1;
        m.type_url = "io.containerd.podshim.v2.options";
        m.config_path = path;
        len = runtimeoptions__v1__options__pack(&m, buf);
        return ps_options_decode("runtimeoptions.v1.Options", buf, len, o, err);
}

/* A task given no options takes the system config's settings over the
 * built-in defaults; a missing file is no error, a broken one is. */
static void test_options_defaults_system_config(void)
{
        _cleanup_free_ char *path = NULL;
        struct ps_options o = {0};
        struct ps_err *e = NULL;

        CHECK(asprintf(&path, "%s/system.toml", tmpdir) > 0);
        CHECK_INTEQ(ps_options_defaults_from(path, &o, &e), 0); /* no file yet */
        CHECK_STREQ(o.binary_name, "runc");
        CHECK_STREQ(o.root, PS_DEFAULT_RUNTIME_ROOT);
        ps_options_clear(&o);
        CHECK_INTEQ(ps_options_defaults_from(NULL, &o, &e), 0);
        CHECK_STREQ(o.binary_name, "runc");
        ps_options_clear(&o);

        CHECK(ps_write_file_atomic(path, "BinaryName = \"crun\"\nSystemdCgroup = true\n", 41, 0644,
                                   &e) == 0);
        CHECK_INTEQ(ps_options_defaults_from(path, &o, &e), 0);
        CHECK_STREQ(o.binary_name, "crun");
        CHECK_STREQ(o.root, PS_DEFAULT_RUNTIME_ROOT); /* unset there: built in */
        CHECK(o.systemd_cgroup);
        ps_options_clear(&o);

        CHECK(ps_write_file_atomic(path, "Binary = \"crun\"\n", 16, 0644, &e) == 0);
        CHECK_INTEQ(ps_options_defaults_from(path, &o, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT && msg_has(e, "system.toml"));
        CHECK(o.binary_name == NULL);
        e = ps_err_free(e);
}

static void test_options_config_file(void)
{
        struct ps_options o = {0};
        struct ps_err *e = NULL;

        CHECK_INTEQ(decode_config("# podshim\n\nBinaryName = \"crun\"  # the runtime\n"
                                  "Root='/run/x#y'\nSystemdCgroup = true\nIoUid = 42\r\n"
                                  "  NoPivotRoot=false\nShimCgroup = \"a\\\"b\"\n",
                                  &o, &e),
                    0);
        CHECK(e == NULL);
        CHECK_STREQ(o.binary_name, "crun");
        CHECK_STREQ(o.root, "/run/x#y");
        CHECK_STREQ(o.shim_cgroup, "a\"b");
        CHECK(o.systemd_cgroup && !o.no_pivot_root);
        CHECK_INTEQ(o.io_uid, 42);
        ps_options_clear(&o);

        CHECK_INTEQ(decode_config("BinaryName = \"crun\"\n\nthis is not toml\n", &o, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT && strstr(ps_err_msg(e), ":3:"));
        e = ps_err_free(e);
        CHECK_INTEQ(decode_config("SystemdCgroup = yes\n", &o, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT && strstr(ps_err_msg(e), ":1:"));
        e = ps_err_free(e);
        CHECK_INTEQ(decode_config("Root = \"unterminated\n", &o, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        e = ps_err_free(e);
        CHECK_INTEQ(decode_config("NoSuchKey = 1\n", &o, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        e = ps_err_free(e);
        CHECK_INTEQ(decode_config("IoGid = -1\n", &o, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        ps_err_free(e);
}

/* containerd 1.7+ with no ConfigPath: the handler's options table inline. */
static int decode_body(const char *toml, struct ps_options *o, struct ps_err **err)
{
        Runtimeoptions__V1__Options m = RUNTIMEOPTIONS__V1__OPTIONS__INIT;
        uint8_t buf[512];
        size_t len;

        m.type_url = "io.containerd.podshim.v2.options";
        m.config_body.data = (uint8_t *)(uintptr_t)toml;
        m.config_body.len = strlen(toml);
        len = runtimeoptions__v1__options__pack(&m, buf);
        return ps_options_decode("runtimeoptions.v1.Options", buf, len, o, err);
}

static void test_options_config_body(void)
{
        struct ps_options o = {0};
        struct ps_err *e = NULL;

        /* what containerd's TOML encoder writes for a handler's options */
        CHECK_INTEQ(decode_body("BinaryName = 'crun'\nSystemdCgroup = true\nIoUid = 7\n", &o, &e),
                    0);
        CHECK(e == NULL);
        CHECK_STREQ(o.binary_name, "crun");
        CHECK(o.systemd_cgroup);
        CHECK_INTEQ(o.io_uid, 7);
        CHECK_STREQ(o.root, PS_DEFAULT_RUNTIME_ROOT); /* unset keys: defaults */
        ps_options_clear(&o);
        /* a key podshim does not know reaches the user, with its line */
        CHECK_INTEQ(decode_body("BinaryName = 'crun'\nBinaryNmae = 'runc'\n", &o, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT && strstr(ps_err_msg(e), "BinaryNmae") &&
              strstr(ps_err_msg(e), ":2"));
        e = ps_err_free(e);
        /* a nested table is not a podshim option either */
        CHECK_INTEQ(decode_body("[sub]\nx = 1\n", &o, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        e = ps_err_free(e);
        /* neither path nor body: the defaults */
        CHECK_INTEQ(decode_body("", &o, &e), 0);
        CHECK_STREQ(o.binary_name, "runc");
        ps_options_clear(&o);
}

/* The vm backend's keys (docs/vm-backend.md): Backend is "linux" or "vm",
 * nothing else; the VM's settings are plain strings and numbers. */
static void test_options_vm_backend(void)
{
        struct ps_options o = {0};
        struct ps_err *e = NULL;

        CHECK_INTEQ(decode_body("Backend = 'vm'\nVMKernel = '/boot/vmlinuz-x'\n"
                                "VMInitrd = '/i.gz'\nVMAccel = 'tcg'\nVMDefaultCPUs = 2\n"
                                "VMDefaultMemoryMiB = 512\n",
                                &o, &e),
                    0);
        CHECK(e == NULL);
        CHECK_STREQ(o.backend, PS_BACKEND_VM);
        CHECK_STREQ(o.vm_kernel, "/boot/vmlinuz-x");
        CHECK_STREQ(o.vm_initrd, "/i.gz");
        CHECK_STREQ(o.vm_accel, "tcg");
        CHECK(o.vm_agent == NULL);
        CHECK_INTEQ(o.vm_cpus, 2);
        CHECK_INTEQ(o.vm_memory_mib, 512);
        ps_options_clear(&o);
        CHECK_INTEQ(decode_body("Backend = 'kata'\n", &o, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT && strstr(ps_err_msg(e), "kata"));
        e = ps_err_free(e);
}

static void test_options_save_load(void)
{
        _cleanup_free_ char *dir = NULL, *rt = NULL;
        struct ps_options o = {0}, l = {0};
        size_t len = 0;

        CHECK(asprintf(&dir, "%s/bundle-opts", tmpdir) > 0);
        CHECK(mkdir(dir, 0700) == 0);
        /* nothing saved yet: defaults */
        CHECK_INTEQ(ps_options_load(dir, &l, NULL), 0);
        CHECK_STREQ(l.binary_name, "runc");
        CHECK_STREQ(l.root, PS_DEFAULT_RUNTIME_ROOT);
        ps_options_clear(&l);

        CHECK_INTEQ(ps_options_defaults(&o, NULL), 0);
        free(o.binary_name);
        o.binary_name = strdup("crun");
        o.criu_work_path = strdup("/w");
        o.systemd_cgroup = true;
        o.io_uid = 4294967295u;
        o.backend = strdup("vm");
        o.vm_memory_mib = 384;
        CHECK_INTEQ(ps_options_save(dir, &o, NULL), 0);
        CHECK_INTEQ(ps_options_load(dir, &l, NULL), 0);
        CHECK_STREQ(l.binary_name, "crun");
        CHECK_STREQ(l.root, o.root);
        CHECK_STREQ(l.criu_work_path, "/w");
        CHECK(l.criu_path == NULL);
        CHECK(l.systemd_cgroup && !l.no_pivot_root);
        CHECK_INTEQ(l.io_uid, 4294967295u);
        CHECK_STREQ(l.backend, "vm");
        CHECK_INTEQ(l.vm_memory_mib, 384);
        ps_options_clear(&l);
        ps_options_clear(&o);

        free(dir);
        dir = NULL;
        CHECK(asprintf(&dir, "%s/bundle-opts/runtime", tmpdir) > 0);
        CHECK_INTEQ(ps_read_file(dir, 64, &rt, &len, NULL), 0);
        CHECK_STREQ(rt, "crun");
}

/* containerd 2.x sends runc's options to podshim too (user-namespace pods,
 * the shim sandboxer), with the pod's task API endpoint. */
static void test_options_runc_v2_task_api(void)
{
        Containerd__Runc__V1__Options m = CONTAINERD__RUNC__V1__OPTIONS__INIT;
        struct ps_options o = {0};
        struct ps_err *e = NULL;
        uint8_t buf[256];
        size_t len;

        m.io_uid = 100000;
        m.io_gid = 100000;
        m.task_api_address = "unix:///run/containerd/s/abc";
        m.task_api_version = 3;
        len = containerd__runc__v1__options__pack(&m, buf);
        CHECK_INTEQ(ps_options_decode("containerd.runc.v1.Options", buf, len, &o, &e), 0);
        CHECK(e == NULL);
        CHECK_INTEQ(o.io_uid, 100000);
        CHECK_INTEQ(o.io_gid, 100000);
        CHECK_STREQ(o.binary_name, PS_DEFAULT_RUNTIME);
        ps_options_clear(&o);

        /* a field number no containerd release this build knows: refused,
         * named (field 15, varint 1) */
        buf[len++] = 15 << 3;
        buf[len++] = 1;
        CHECK_INTEQ(ps_options_decode("containerd.runc.v1.Options", buf, len, &o, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        CHECK(msg_has(e, "field 15"));
        CHECK(msg_has(e, "containerd.runc.v1.Options"));
        e = ps_err_free(e);
}

static void test_options_legacy_unsupported(void)
{
        Containerd__Linux__Runc__CreateOptions m = CONTAINERD__LINUX__RUNC__CREATE_OPTIONS__INIT;
        char *ns[] = {"network"};
        struct ps_options o = {0};
        struct ps_err *e = NULL;
        uint8_t buf[256];
        size_t len;

        m.open_tcp = 1;
        len = containerd__linux__runc__create_options__pack(&m, buf);
        CHECK_INTEQ(ps_options_decode("containerd.linux.runc.CreateOptions", buf, len, &o, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT && msg_has(e, "open_tcp"));
        e = ps_err_free(e);
        m.open_tcp = 0;
        m.n_empty_namespaces = 1;
        m.empty_namespaces = ns;
        len = containerd__linux__runc__create_options__pack(&m, buf);
        CHECK_INTEQ(ps_options_decode("containerd.linux.runc.CreateOptions", buf, len, &o, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT && msg_has(e, "empty_namespaces"));
        e = ps_err_free(e);
}

static void test_options_type_url(void)
{
        struct ps_options o = {0};
        struct ps_err *e = NULL;
        const uint8_t one[] = {0x08, 0x01};

        /* an unknown type is named in the error */
        CHECK_INTEQ(ps_options_decode("example.com/io.example.Options", one, 2, &o, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT && msg_has(e, "io.example.Options"));
        e = ps_err_free(e);
        /* a value without a type cannot be understood */
        CHECK_INTEQ(ps_options_decode("", one, 2, &o, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT && msg_has(e, "type URL"));
        e = ps_err_free(e);
        /* an empty Any is no options */
        CHECK_INTEQ(ps_options_decode("", NULL, 0, &o, &e), 0);
        CHECK_STREQ(o.binary_name, PS_DEFAULT_RUNTIME);
        ps_options_clear(&o);
}

/* The start action's and -info's stdin: a marshalled Any, or nothing. */
static void test_options_decode_any(void)
{
        Runtimeoptions__V1__Options m = RUNTIMEOPTIONS__V1__OPTIONS__INIT;
        Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
        const char *toml = "BinaryName = 'crun'\n";
        uint8_t val[128], buf[256], junk[] = {0x0a, 0x7f};
        struct ps_options o = {0};
        struct ps_err *e = NULL;
        size_t len;

        m.config_body.data = (uint8_t *)(uintptr_t)toml;
        m.config_body.len = strlen(toml);
        any.type_url = "runtimeoptions.v1.Options";
        any.value.data = val;
        any.value.len = runtimeoptions__v1__options__pack(&m, val);
        len = google__protobuf__any__pack(&any, buf);
        CHECK_INTEQ(ps_options_decode_any(buf, len, &o, &e), 0);
        CHECK_STREQ(o.binary_name, "crun");
        ps_options_clear(&o);
        CHECK_INTEQ(ps_options_decode_any(NULL, 0, &o, &e), 0);
        CHECK_STREQ(o.binary_name, PS_DEFAULT_RUNTIME);
        ps_options_clear(&o);
        CHECK_INTEQ(ps_options_decode_any(junk, sizeof(junk), &o, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        e = ps_err_free(e);
}

/* What containerd 2.1's CRI makes of an options table: go-toml's encoding
 * of the table, keys as the operator wrote them. */
static void test_options_config_body_containerd(void)
{
        struct ps_options o = {0};
        struct ps_err *e = NULL;

        /* runtimeoptions' own keys stay in the table and are skipped;
         * keys match without regard to case, as for a runc handler */
        CHECK_INTEQ(decode_body("ConfigPath = ''\nTypeUrl = 'io.containerd.podshim.v2'\n"
                                "binaryname = \"crun\"\nsystemdCgroup = true\n",
                                &o, &e),
                    0);
        CHECK(e == NULL);
        CHECK_STREQ(o.binary_name, "crun");
        CHECK(o.systemd_cgroup);
        ps_options_clear(&o);
        /* but not in a config file, where they mean nothing */
        CHECK_INTEQ(decode_config("TypeUrl = 'x'\n", &o, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT && msg_has(e, "TypeUrl"));
        e = ps_err_free(e);
        /* a NUL inside the body is not TOML */
        {
                Runtimeoptions__V1__Options m = RUNTIMEOPTIONS__V1__OPTIONS__INIT;
                const char body[] = "BinaryName = 'crun'\0Root = '/x'\n";
                uint8_t buf[128];
                size_t len;

                m.config_body.data = (uint8_t *)(uintptr_t)body;
                m.config_body.len = sizeof(body) - 1;
                len = runtimeoptions__v1__options__pack(&m, buf);
                CHECK_INTEQ(ps_options_decode("runtimeoptions.v1.Options", buf, len, &o, &e), -1);
                CHECK(e && e->code == PS_INVALID_ARGUMENT && msg_has(e, "NUL"));
                e = ps_err_free(e);
        }
}

/* The runtime type by the binary's name (shim/profile.h), and what it makes
 * of the defaults: under the VM name Backend = "vm" and vm.toml are the base
 * of every task's options, and whatever the options say explicitly wins;
 * under any other name nothing changes. */
static void test_options_profile(void)
{
        Containerd__Runc__V1__Options m = CONTAINERD__RUNC__V1__OPTIONS__INIT;
        Runtimeoptions__V1__Options ro = RUNTIMEOPTIONS__V1__OPTIONS__INIT;
        const char body[] = "Backend = 'linux'\n";
        const char *vm_toml = "BinaryName = 'crun'\nVMKernel = '/k'\nVMInitrd = '/i'\n"
                              "SystemdCgroup = true\n";
        struct ps_options_profile vm, lx;
        _cleanup_free_ char *path = NULL;
        struct ps_options o = {0};
        struct ps_err *e = NULL;
        uint8_t buf[256];
        size_t len;

        ps_shim_profile("/usr/bin/containerd-shim-podshim-vm-v2", NULL, &vm);
        CHECK(ps_shim_profile_is_vm(&vm) && vm.config_under_options);
        CHECK_STREQ(vm.runtime_type, "io.containerd.podshim-vm.v2");
        CHECK_STREQ(vm.backend, PS_BACKEND_VM);
        CHECK_STREQ(vm.system_config, "/etc/podshim/vm.toml");
        ps_shim_profile("containerd-shim-podshim-vm-v2", "", &vm); /* empty: the default */
        CHECK_STREQ(vm.system_config, "/etc/podshim/vm.toml");
        ps_shim_profile("./containerd-shim-podshim-v2", NULL, &lx);
        CHECK(!ps_shim_profile_is_vm(&lx) && !lx.config_under_options && lx.backend == NULL);
        CHECK_STREQ(lx.runtime_type, "io.containerd.podshim.v2");
        CHECK_STREQ(lx.system_config, PS_SYSTEM_CONFIG);
        /* only the exact name: a renamed copy or no name is the Linux type */
        ps_shim_profile("/x/containerd-shim-podshim-vm-v2.bak", "/y", &lx);
        CHECK(!ps_shim_profile_is_vm(&lx) && lx.backend == NULL);
        ps_shim_profile(NULL, NULL, &lx);
        CHECK(!ps_shim_profile_is_vm(&lx));
        ps_shim_profile("containerd-shim-podshim-vm-v2/", NULL, &lx);
        CHECK(!ps_shim_profile_is_vm(&lx));

        CHECK(asprintf(&path, "%s/vm.toml", tmpdir) > 0);
        ps_shim_profile("containerd-shim-podshim-vm-v2", path, &vm);
        CHECK_STREQ(vm.system_config, path);
        /* no vm.toml: the VM backend and the built-in rest */
        CHECK_INTEQ(ps_options_decode_any_for(&vm, NULL, 0, &o, &e), 0);
        CHECK_STREQ(o.backend, PS_BACKEND_VM);
        CHECK_STREQ(o.binary_name, "runc");
        CHECK(o.vm_kernel == NULL);
        ps_options_clear(&o);

        CHECK(ps_write_file_atomic(path, vm_toml, strlen(vm_toml), 0644, &e) == 0);
        /* no options: vm.toml */
        CHECK_INTEQ(ps_options_profile_defaults(&vm, &o, &e), 0);
        CHECK_STREQ(o.backend, PS_BACKEND_VM);
        CHECK_STREQ(o.binary_name, "crun");
        CHECK_STREQ(o.vm_kernel, "/k");
        CHECK(o.systemd_cgroup);
        ps_options_clear(&o);
        /* the shim sandboxer's runc options naming only the task API: vm.toml
         * all the same (their zero SystemdCgroup does not undo it) */
        m.task_api_address = "unix:///run/containerd/s/abc";
        m.task_api_version = 3;
        len = containerd__runc__v1__options__pack(&m, buf);
        CHECK_INTEQ(ps_options_decode_for(&vm, "containerd.runc.v1.Options", buf, len, &o, &e), 0);
        CHECK_STREQ(o.backend, PS_BACKEND_VM);
        CHECK_STREQ(o.binary_name, "crun");
        CHECK_STREQ(o.vm_initrd, "/i");
        CHECK(o.systemd_cgroup);
        ps_options_clear(&o);
        /* an explicit BinaryName wins over vm.toml's */
        m.binary_name = "runc";
        len = containerd__runc__v1__options__pack(&m, buf);
        CHECK_INTEQ(ps_options_decode_for(&vm, "containerd.runc.v1.Options", buf, len, &o, &e), 0);
        CHECK_STREQ(o.binary_name, "runc");
        CHECK_STREQ(o.vm_kernel, "/k");
        ps_options_clear(&o);
        /* and so does an explicit Backend (a handler's options table) */
        ro.config_body.data = (uint8_t *)(uintptr_t)body;
        ro.config_body.len = sizeof(body) - 1;
        len = runtimeoptions__v1__options__pack(&ro, buf);
        CHECK_INTEQ(ps_options_decode_for(&vm, "runtimeoptions.v1.Options", buf, len, &o, &e), 0);
        CHECK_STREQ(o.backend, PS_BACKEND_LINUX);
        CHECK_STREQ(o.binary_name, "crun");
        ps_options_clear(&o);
        /* the Linux type: explicit options do not start from its config */
        lx = (struct ps_options_profile){.runtime_type = "io.containerd.podshim.v2",
                                         .system_config = path};
        CHECK_INTEQ(ps_options_decode_for(&lx, "runtimeoptions.v1.Options", buf, len, &o, &e), 0);
        CHECK_STREQ(o.binary_name, "runc");
        CHECK(o.vm_kernel == NULL);
        ps_options_clear(&o);
        CHECK_INTEQ(ps_options_decode_any_for(&lx, NULL, 0, &o, &e), 0);
        CHECK(o.backend == NULL); /* no options: its config, no VM default */
        CHECK_STREQ(o.binary_name, "crun");
        ps_options_clear(&o);

        /* a broken vm.toml is an error naming it, never ignored */
        CHECK(ps_write_file_atomic(path, "VMKernal = '/k'\n", 16, 0644, &e) == 0);
        CHECK_INTEQ(ps_options_decode_for(&vm, "containerd.runc.v1.Options", buf, 0, &o, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT && msg_has(e, "vm.toml") &&
              msg_has(e, "VMKernal"));
        e = ps_err_free(e);
        CHECK_INTEQ(ps_options_profile_defaults(&vm, &o, &e), -1);
        CHECK(e && msg_has(e, "vm.toml"));
        e = ps_err_free(e);
}

int main(void)
{
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_options.XXXXXX");
        if (!mkdtemp(tmpdir))
                return 2;
        RUN(test_options_runc_v1);
        RUN(test_options_runc_v2_task_api);
        RUN(test_options_legacy_and_defaults);
        RUN(test_options_legacy_unsupported);
        RUN(test_options_type_url);
        RUN(test_options_decode_any);
        RUN(test_options_config_file);
        RUN(test_options_defaults_system_config);
        RUN(test_options_config_body);
        RUN(test_options_config_body_containerd);
        RUN(test_options_save_load);
        RUN(test_options_vm_backend);
        RUN(test_options_profile);
        test_rm_rf(tmpdir);
        return check_summary();
}
