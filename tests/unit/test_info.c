/* `-info`: the RuntimeInfo encoding (api/runtime_info.h) and the action
 * itself (shim/info.h) run in a child with real OCI runtimes and real
 * programs that lack a `features` subcommand. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "api/runtime_info.h"
#include "base/cleanup.h"
#include "base/fs.h"
#include "base/version.h"
#include "check.h"
#include "scratch.h"
#include "containerd/runc/options.pb-c.h"
#include "containerd/types/introspection.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "runtimeoptions/options.pb-c.h"
#include "shim/info.h"
#include "shim/profile.h"

static char tmpdir[64];

/* ---- the encoding ---- */

/* Field numbers and wire types checked byte by byte, independently of
 * protobuf-c: name=1, version=2 {version=1, revision=2}, options=3,
 * features=4 {type_url=1, value=2}. */
static void test_pack_wire_bytes(void)
{
        static const uint8_t want[] = {
            0x0a, 0x01, 'n',                              /* name */
            0x12, 0x06, 0x0a, 0x01, 'v', 0x12, 0x01, 'r', /* version */
        };
        struct ps_runtime_info in = {.name = "n", .version = "v", .revision = "r"};
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len = 0;

        CHECK_INTEQ(ps_runtime_info_pack(&in, &buf, &len, NULL), 0);
        CHECK_INTEQ(len, sizeof(want));
        CHECK(buf && len == sizeof(want) && memcmp(buf, want, len) == 0);
        free(buf);
        buf = NULL;

        /* features: tag 4 (0x22), then an Any with the type URL and value */
        in.revision = NULL;
        in.features = "{}";
        in.features_len = 2;
        CHECK_INTEQ(ps_runtime_info_pack(&in, &buf, &len, NULL), 0);
        {
                const size_t url = strlen(PS_FEATURES_TYPE_URL);
                const uint8_t *p = buf + 3 + 5; /* name, then version {version} */

                CHECK_INTEQ(len, 3 + 5 + 2 + 2 + url + 2 + 2);
                CHECK(p[0] == 0x22 && p[1] == 2 + url + 2 + 2);
                CHECK(p[2] == 0x0a && p[3] == url && memcmp(p + 4, PS_FEATURES_TYPE_URL, url) == 0);
                CHECK(p[4 + url] == 0x12 && p[5 + url] == 2 && memcmp(p + 6 + url, "{}", 2) == 0);
        }
}

static void test_pack_options_echoed(void)
{
        Containerd__Runc__V1__Options ro = CONTAINERD__RUNC__V1__OPTIONS__INIT;
        Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
        Containerd__Types__RuntimeInfo *m;
        uint8_t val[64], in[128], junk[] = {0x0a, 0x7f};
        _cleanup_free_ uint8_t *buf = NULL;
        struct ps_err *e = NULL;
        size_t len = 0, in_len;

        ro.binary_name = "crun";
        any.type_url = "containerd.runc.v1.Options";
        any.value.data = val;
        any.value.len = containerd__runc__v1__options__pack(&ro, val);
        in_len = google__protobuf__any__pack(&any, in);
        struct ps_runtime_info info = {.name = "io.containerd.podshim.v2",
                                       .version = "0.1.0",
                                       .options = in,
                                       .options_len = in_len};
        CHECK_INTEQ(ps_runtime_info_pack(&info, &buf, &len, &e), 0);
        m = containerd__types__runtime_info__unpack(NULL, len, buf);
        CHECK(m != NULL);
        if (m) {
                CHECK_STREQ(m->name, "io.containerd.podshim.v2");
                CHECK(m->version && strcmp(m->version->version, "0.1.0") == 0);
                CHECK(m->options &&
                      strcmp(m->options->type_url, "containerd.runc.v1.Options") == 0);
                CHECK(m->options && m->options->value.len == any.value.len &&
                      memcmp(m->options->value.data, val, any.value.len) == 0);
                CHECK(m->features == NULL && m->n_annotations == 0);
                containerd__types__runtime_info__free_unpacked(m, NULL);
        }
        info.options = junk;
        info.options_len = sizeof(junk);
        CHECK_INTEQ(ps_runtime_info_pack(&info, &buf, &len, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        ps_err_free(e);
}

/* ---- the action ---- */

struct info_run {
        int status; /* wait status */
        char *out;  /* stdout */
        size_t out_len;
        char *err; /* stderr */
};

static void info_run_clear(struct info_run *r)
{
        free(r->out);
        free(r->err);
        *r = (struct info_run){0};
}

/* Runs the action in a child with `in` on stdin, like containerd does. */
static void run_info(const uint8_t *in, size_t in_len, struct info_run *r)
{
        char out_path[128], err_path[128];
        int pfd[2];
        pid_t pid;

        *r = (struct info_run){.status = -1};
        snprintf(out_path, sizeof(out_path), "%s/info.out", tmpdir);
        snprintf(err_path, sizeof(err_path), "%s/info.err", tmpdir);
        if (pipe2(pfd, O_CLOEXEC) < 0)
                return;
        if (in_len && write(pfd[1], in, in_len) != (ssize_t)in_len)
                return;
        close(pfd[1]);
        pid = fork();
        if (pid == 0) {
                int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

                if (o < 0 || e < 0 || dup2(pfd[0], 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
                        _exit(121);
                struct ps_options_profile prof;

                ps_shim_profile("containerd-shim-podshim-v2", NULL, &prof);
                _exit(ps_info_action(&prof));
        }
        close(pfd[0]);
        if (pid < 0 || waitpid(pid, &r->status, 0) != pid)
                return;
        ps_read_file(out_path, 1u << 20, &r->out, &r->out_len, NULL);
        ps_read_file(err_path, 1u << 20, &r->err, NULL, NULL);
}

/* A runtimeoptions Any whose inline table names `binary`. */
static size_t options_for(const char *binary, uint8_t *buf, size_t size)
{
        Runtimeoptions__V1__Options m = RUNTIMEOPTIONS__V1__OPTIONS__INIT;
        Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
        char body[512];
        uint8_t val[600];

        snprintf(body, sizeof(body), "BinaryName = '%s'\n", binary);
        m.config_body.data = (uint8_t *)body;
        m.config_body.len = strlen(body);
        any.type_url = "runtimeoptions.v1.Options";
        any.value.data = val;
        any.value.len = runtimeoptions__v1__options__pack(&m, val);
        if (google__protobuf__any__get_packed_size(&any) > size)
                return 0;
        return google__protobuf__any__pack(&any, buf);
}

static bool exited(const struct info_run *r, int code)
{
        if (r->status >= 0 && WIFEXITED(r->status) && WEXITSTATUS(r->status) == code)
                return true;
        fprintf(stderr, "  status %d, stderr: %s\n", r->status, r->err ? r->err : "");
        return false;
}

static Containerd__Types__RuntimeInfo *decode(const struct info_run *r)
{
        return r->out ? containerd__types__runtime_info__unpack(NULL, r->out_len,
                                                                (const uint8_t *)r->out)
                      : NULL;
}

/* The runtime podshim runs by default (runc on PATH) answers `features`:
 * its JSON goes out as is, under containerd's type URL. */
static void test_action_default_runtime(void)
{
        Containerd__Types__RuntimeInfo *m;
        struct info_run r;

        run_info(NULL, 0, &r);
        CHECK(exited(&r, 0));
        m = decode(&r);
        CHECK(m != NULL);
        if (m) {
                CHECK_STREQ(m->name, "io.containerd.podshim.v2");
                CHECK(m->version && strcmp(m->version->version, ps_build_version) == 0);
                /* the revision the build recorded, as recorded */
                CHECK(m->version && strcmp(m->version->revision, ps_build_revision) == 0);
                CHECK(m->options == NULL); /* none were given */
                CHECK(m->features != NULL);
                if (m->features) {
                        cJSON *j = cJSON_ParseWithLength((const char *)m->features->value.data,
                                                         m->features->value.len);

                        CHECK_STREQ(m->features->type_url, PS_FEATURES_TYPE_URL);
                        CHECK(cJSON_IsString(cJSON_GetObjectItem(j, "ociVersionMin")));
                        cJSON_Delete(j);
                }
                containerd__types__runtime_info__free_unpacked(m, NULL);
        }
        info_run_clear(&r);
}

/* Programs that run but have no `features`: one fails (what crun 1.8.1
 * does: "unknown command features", exit 1), one prints something that is
 * not a JSON object. Either way: an answer without features, exit 0, the
 * reason on stderr, and the options echoed. */
static void test_action_runtime_without_features(void)
{
        static const char *const runtimes[] = {"/bin/false", "/bin/echo"};

        for (size_t i = 0; i < 2; i++) {
                Containerd__Types__RuntimeInfo *m;
                uint8_t in[256];
                size_t len = options_for(runtimes[i], in, sizeof(in));
                struct info_run r;

                run_info(in, len, &r);
                CHECK(exited(&r, 0));
                CHECK(r.err && strstr(r.err, "answering without features") &&
                      strstr(r.err, runtimes[i]));
                CHECK(r.err && strstr(r.err, i == 0 ? "exit status 1" : "not a JSON object"));
                m = decode(&r);
                CHECK(m != NULL);
                if (m) {
                        CHECK(m->features == NULL);
                        CHECK(m->options &&
                              strcmp(m->options->type_url, "runtimeoptions.v1.Options") == 0);
                        containerd__types__runtime_info__free_unpacked(m, NULL);
                }
                info_run_clear(&r);
        }
}

/* Failures: an error on stderr, nothing on stdout, exit 1. */
static void test_action_failures(void)
{
        Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
        uint8_t in[256], junk[] = {0x0a, 0x7f};
        struct info_run r;
        size_t len;

        /* the runtime the options name does not exist */
        len = options_for("/nonexistent/podshim-test/runc", in, sizeof(in));
        run_info(in, len, &r);
        CHECK(exited(&r, 1));
        CHECK(r.out_len == 0);
        CHECK(r.err && strstr(r.err, "/nonexistent/podshim-test/runc"));
        info_run_clear(&r);
        /* not on PATH either */
        len = options_for("podshim-no-such-runtime", in, sizeof(in));
        run_info(in, len, &r);
        CHECK(exited(&r, 1));
        CHECK(r.out_len == 0 && r.err && strstr(r.err, "not found in $PATH"));
        info_run_clear(&r);
        /* stdin that is not an Any */
        run_info(junk, sizeof(junk), &r);
        CHECK(exited(&r, 1));
        CHECK(r.out_len == 0 && r.err && strstr(r.err, "Any"));
        info_run_clear(&r);
        /* options of a type podshim does not take, as for Create */
        any.type_url = "io.example.Options";
        len = google__protobuf__any__pack(&any, in);
        run_info(in, len, &r);
        CHECK(exited(&r, 1));
        CHECK(r.out_len == 0 && r.err && strstr(r.err, "io.example.Options"));
        info_run_clear(&r);
}

int main(void)
{
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_info.XXXXXX");
        if (!mkdtemp(tmpdir))
                return 2;
        RUN(test_pack_wire_bytes);
        RUN(test_pack_options_echoed);
        RUN(test_action_default_runtime);
        RUN(test_action_runtime_without_features);
        RUN(test_action_failures);
        test_rm_rf(tmpdir);
        return check_summary();
}
