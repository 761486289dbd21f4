/* The OCI spec parsed into its typed struct (oci/spec.h): every field, the
 * defaults, the bounds, and INVALID_ARGUMENT for every wrong type. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "check.h"
#include "oci/spec.h"

#define PROCESS "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"}"
#define ROOT    "\"root\":{\"path\":\"rootfs\"}"
#define MINIMAL "{" PROCESS "," ROOT

/* The code a parse ends with: PS_OK (and *ret_spec set) or the error's. */
static enum ps_code parse_code(const char *json, struct ps_spec **ret_spec)
{
        struct ps_spec *s = NULL;
        struct ps_err *e = NULL;
        enum ps_code code = PS_OK;

        if (ps_spec_parse(json, strlen(json), &s, &e) < 0) {
                code = e ? e->code : PS_UNKNOWN;
                if (s) /* nothing is set on failure */
                        code = PS_INTERNAL;
                ps_err_free(e);
        }
        if (ret_spec)
                *ret_spec = s;
        else
                ps_spec_free(s);
        return code;
}

static struct ps_spec *parse(const char *json)
{
        struct ps_spec *s = NULL;
        enum ps_code c = parse_code(json, &s);

        if (c != PS_OK)
                fprintf(stderr, "parse failed (code %d): %.200s\n", c, json);
        return s;
}

static bool invalid(const char *json)
{
        enum ps_code c = parse_code(json, NULL);

        if (c != PS_INVALID_ARGUMENT)
                fprintf(stderr, "not INVALID_ARGUMENT (code %d): %.200s\n", c, json);
        return c == PS_INVALID_ARGUMENT;
}

static void test_minimal_defaults(void)
{
        _cleanup_spec_ struct ps_spec *s = parse(MINIMAL "}");

        CHECK(s != NULL);
        if (!s)
                return;
        CHECK_STREQ(s->cwd, "/");
        CHECK_STREQ(s->root_path, "rootfs");
        CHECK(!s->terminal && !s->root_readonly && !s->has_oom_score_adj);
        CHECK(s->uid == 0 && s->gid == 0 && s->oom_score_adj == 0);
        CHECK(!s->hostname && !s->cgroups_path);
        for (int t = 0; t < PS_SPEC_NS_COUNT; t++) {
                CHECK(!s->ns[t].present && !s->ns[t].path);
                CHECK(!ps_spec_new_ns(s, (enum ps_spec_ns_type)t));
        }
        CHECK(s->resources.cpu_shares == 0 && s->resources.cpu_quota == 0);
        CHECK(s->resources.cpu_period == 0 && s->resources.memory_limit == 0);
        CHECK(s->n_sysctls == 0 && s->n_annotations == 0);
        CHECK(ps_spec_annotation(s, "x") == NULL);
        CHECK(ps_spec_annotation(NULL, "x") == NULL && ps_spec_annotation(s, NULL) == NULL);
}

static const char full_json[] =
    "{\"ociVersion\":\"1.0.2\",\"process\":{\"terminal\":true,\"user\":{\"uid\":1000,"
    "\"gid\":4294967295,\"additionalGids\":[5]},\"args\":[\"sh\",\"-c\",\"x\"],"
    "\"env\":[\"A=1\"],\"cwd\":\"/work\",\"oomScoreAdj\":-998},"
    "\"root\":{\"path\":\"/run/x/rootfs\",\"readonly\":true},\"hostname\":\"pod-1\","
    "\"mounts\":[{\"destination\":\"/proc\"}],"
    "\"linux\":{\"cgroupsPath\":\"kubepods.slice:cri-containerd:abc\",\"namespaces\":["
    "{\"type\":\"pid\"},{\"type\":\"network\",\"path\":\"/var/run/netns/cni-1\"},"
    "{\"type\":\"mount\"},{\"type\":\"ipc\",\"path\":\"\"},{\"type\":\"uts\"},"
    "{\"type\":\"user\",\"path\":\"/proc/1/ns/user\"},{\"type\":\"cgroup\"},{\"type\":\"time\"}],"
    "\"resources\":{\"devices\":[{\"allow\":false}],\"cpu\":{\"shares\":1024,"
    "\"quota\":-1,\"period\":100000},\"memory\":{\"limit\":268435456,\"swap\":1}},"
    "\"sysctl\":{\"net.ipv4.ip_forward\":\"1\",\"kernel.shmmax\":\"65536\"},"
    "\"maskedPaths\":[\"/proc/kcore\"]},"
    "\"annotations\":{\"io.kubernetes.cri.container-type\":\"sandbox\","
    "\"io.kubernetes.cri.sandbox-id\":\"sb\",\"empty\":\"\",\"dup\":\"first\","
    "\"dup\":\"second\"}}";

static void test_every_field(void)
{
        _cleanup_spec_ struct ps_spec *s = parse(full_json);

        CHECK(s != NULL);
        if (!s)
                return;
        CHECK(s->terminal);
        CHECK_STREQ(s->cwd, "/work");
        CHECK_INTEQ(s->uid, 1000);
        CHECK(s->gid == UINT32_MAX);
        CHECK(s->has_oom_score_adj && s->oom_score_adj == -998);
        CHECK_STREQ(s->root_path, "/run/x/rootfs");
        CHECK(s->root_readonly);
        CHECK_STREQ(s->hostname, "pod-1");
        CHECK_STREQ(s->cgroups_path, "kubepods.slice:cri-containerd:abc");
        for (int t = 0; t < PS_SPEC_NS_COUNT; t++)
                CHECK(s->ns[t].present);
        CHECK_STREQ(s->ns[PS_SPEC_NS_NETWORK].path, "/var/run/netns/cni-1");
        CHECK_STREQ(s->ns[PS_SPEC_NS_USER].path, "/proc/1/ns/user");
        CHECK(s->ns[PS_SPEC_NS_IPC].path == NULL); /* "" is no path */
        CHECK(ps_spec_new_ns(s, PS_SPEC_NS_PID) && ps_spec_new_ns(s, PS_SPEC_NS_IPC));
        CHECK(!ps_spec_new_ns(s, PS_SPEC_NS_NETWORK) && !ps_spec_new_ns(s, PS_SPEC_NS_USER));
        CHECK(!ps_spec_new_ns(s, PS_SPEC_NS_COUNT));
        CHECK_INTEQ(s->resources.cpu_shares, 1024);
        CHECK_INTEQ(s->resources.cpu_quota, -1);
        CHECK_INTEQ(s->resources.cpu_period, 100000);
        CHECK_INTEQ(s->resources.memory_limit, 268435456);
        CHECK_INTEQ(s->n_sysctls, 2); /* in file order */
        if (s->n_sysctls == 2) {
                CHECK_STREQ(s->sysctls[0].key, "net.ipv4.ip_forward");
                CHECK_STREQ(s->sysctls[0].value, "1");
                CHECK_STREQ(s->sysctls[1].key, "kernel.shmmax");
                CHECK_STREQ(s->sysctls[1].value, "65536");
        }
        CHECK_INTEQ(s->n_annotations, 5);
        CHECK_STREQ(ps_spec_annotation(s, "io.kubernetes.cri.container-type"), "sandbox");
        CHECK_STREQ(ps_spec_annotation(s, "io.kubernetes.cri.sandbox-id"), "sb");
        CHECK_STREQ(ps_spec_annotation(s, "empty"), "");
        CHECK_STREQ(ps_spec_annotation(s, "dup"), "first");
        CHECK(ps_spec_annotation(s, "io.kubernetes.cri") == NULL);
}

/* JSON null is absent (as for runc); empty strings mean none where the
 * header says so. */
static void test_null_and_empty(void)
{
        _cleanup_spec_ struct ps_spec *s = parse(
            "{\"process\":{\"args\":null,\"cwd\":\"\",\"terminal\":null,\"user\":null,"
            "\"oomScoreAdj\":null},\"root\":{\"path\":\"\",\"readonly\":null},"
            "\"hostname\":\"\",\"annotations\":{\"a\":null,\"b\":\"x\"},"
            "\"linux\":{\"cgroupsPath\":\"\",\"namespaces\":[{\"type\":\"pid\",\"path\":null}],"
            "\"resources\":{\"cpu\":{\"shares\":null,\"quota\":null},\"memory\":null},"
            "\"sysctl\":null}}");
        _cleanup_spec_ struct ps_spec *s2 = NULL;

        CHECK(s != NULL);
        if (!s)
                return;
        CHECK_STREQ(s->cwd, "");
        CHECK_STREQ(s->root_path, "");
        CHECK(!s->terminal && !s->has_oom_score_adj && !s->root_readonly);
        CHECK(!s->hostname && !s->cgroups_path);
        CHECK(ps_spec_new_ns(s, PS_SPEC_NS_PID));
        CHECK(s->resources.cpu_shares == 0 && s->resources.cpu_quota == 0);
        CHECK(s->n_sysctls == 0 && s->n_annotations == 1);
        CHECK(ps_spec_annotation(s, "a") == NULL);
        CHECK_STREQ(ps_spec_annotation(s, "b"), "x");

        s2 = parse(MINIMAL ",\"linux\":null,\"hostname\":null,\"annotations\":null}");
        CHECK(s2 && !s2->hostname && s2->n_annotations == 0);
}

/* Integers: integral, within the OCI (Go) type's range. */
static void test_integers(void)
{
        _cleanup_spec_ struct ps_spec *s = NULL;

        s = parse(MINIMAL ",\"linux\":{\"resources\":{\"cpu\":{\"shares\":18446744073709551615,"
                          "\"quota\":-9223372036854775808,\"period\":0},"
                          "\"memory\":{\"limit\":9223372036854775807}}}}");
        CHECK(s != NULL);
        if (s) {
                CHECK(s->resources.cpu_shares == UINT64_MAX);
                CHECK(s->resources.cpu_quota == INT64_MIN);
                CHECK(s->resources.memory_limit == INT64_MAX);
        }
        s = ps_spec_free(s);
        s = parse("{\"process\":{\"cwd\":\"/\",\"oomScoreAdj\":1000,\"user\":{\"uid\":0,"
                  "\"gid\":1.0}}," ROOT "}");
        CHECK(s && s->has_oom_score_adj && s->oom_score_adj == 1000 && s->gid == 1);
        s = ps_spec_free(s);
        s = parse("{\"process\":{\"cwd\":\"/\",\"oomScoreAdj\":-1000}," ROOT "}");
        CHECK(s && s->oom_score_adj == -1000);

#define P(x) "{\"process\":{\"cwd\":\"/\"," x "}," ROOT "}"
        CHECK(invalid(P("\"oomScoreAdj\":1001")));
        CHECK(invalid(P("\"oomScoreAdj\":-1001")));
        CHECK(invalid(P("\"oomScoreAdj\":1.5")));
        CHECK(invalid(P("\"oomScoreAdj\":\"5\"")));
        CHECK(invalid(P("\"oomScoreAdj\":1e999")));
        CHECK(invalid(P("\"user\":{\"uid\":-1}")));
        CHECK(invalid(P("\"user\":{\"uid\":4294967296}")));
        CHECK(invalid(P("\"user\":{\"gid\":0.5}")));
        CHECK(invalid(P("\"user\":{\"gid\":true}")));
#undef P
#define R(x) MINIMAL ",\"linux\":{\"resources\":" x "}}"
        CHECK(invalid(R("{\"cpu\":{\"shares\":-1}}")));
        CHECK(invalid(R("{\"cpu\":{\"shares\":1e20}}")));
        CHECK(invalid(R("{\"cpu\":{\"period\":\"100\"}}")));
        CHECK(invalid(R("{\"cpu\":{\"quota\":1e19}}")));
        CHECK(invalid(R("{\"cpu\":{\"quota\":-1e19}}")));
        CHECK(invalid(R("{\"cpu\":{\"quota\":0.25}}")));
        CHECK(invalid(R("{\"memory\":{\"limit\":[1]}}")));
        CHECK(invalid(R("{\"memory\":{\"limit\":-1e999}}")));
#undef R
}

/* A field of the wrong JSON type is INVALID_ARGUMENT, whatever the field. */
static void test_bad_types(void)
{
        static const char *const bad[] = {
            "not json",
            "[1,2]",
            "\"x\"",
            "null",
            MINIMAL "} trailing",
            "{" ROOT "}",
            "{" PROCESS "}",
            "{\"process\":[]," ROOT "}",
            "{\"process\":{\"args\":[\"sh\"]}," ROOT "}",
            "{\"process\":{\"cwd\":7}," ROOT "}",
            "{\"process\":{\"cwd\":\"/\",\"args\":\"sh\"}," ROOT "}",
            "{\"process\":{\"cwd\":\"/\",\"args\":[1]}," ROOT "}",
            "{\"process\":{\"cwd\":\"/\",\"args\":[null]}," ROOT "}",
            "{\"process\":{\"cwd\":\"/\",\"terminal\":1}," ROOT "}",
            "{\"process\":{\"cwd\":\"/\",\"terminal\":\"true\"}," ROOT "}",
            "{\"process\":{\"cwd\":\"/\",\"user\":[]}," ROOT "}",
            "{" PROCESS ",\"root\":\"rootfs\"}",
            "{" PROCESS ",\"root\":{}}",
            "{" PROCESS ",\"root\":{\"path\":1}}",
            "{" PROCESS ",\"root\":{\"path\":\"r\",\"readonly\":\"yes\"}}",
            MINIMAL ",\"hostname\":1}",
            MINIMAL ",\"linux\":[]}",
            MINIMAL ",\"linux\":{\"cgroupsPath\":{}}}",
            MINIMAL ",\"linux\":{\"namespaces\":{}}}",
            MINIMAL ",\"linux\":{\"namespaces\":[\"pid\"]}}",
            MINIMAL ",\"linux\":{\"namespaces\":[{}]}}",
            MINIMAL ",\"linux\":{\"namespaces\":[{\"type\":1}]}}",
            MINIMAL ",\"linux\":{\"namespaces\":[{\"type\":\"pid\",\"path\":1}]}}",
            MINIMAL ",\"linux\":{\"namespaces\":[{\"type\":\"net\"}]}}",
            MINIMAL ",\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"pid\","
                    "\"path\":\"/p\"}]}}",
            MINIMAL ",\"linux\":{\"resources\":[]}}",
            MINIMAL ",\"linux\":{\"resources\":{\"cpu\":1}}}",
            MINIMAL ",\"linux\":{\"resources\":{\"memory\":\"1G\"}}}",
            MINIMAL ",\"linux\":{\"sysctl\":[\"a\"]}}",
            MINIMAL ",\"linux\":{\"sysctl\":{\"a\":1}}}",
            MINIMAL ",\"annotations\":[]}",
            MINIMAL ",\"annotations\":{\"n\":1}}",
            MINIMAL ",\"annotations\":{\"o\":{}}}",
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                CHECK(invalid(bad[i]));
}

/* A JSON string of n bytes of `c`. */
static char *str_of(size_t n, char c)
{
        char *s = malloc(n + 3);

        if (!s)
                abort();
        s[0] = '"';
        memset(s + 1, c, n);
        strcpy(s + 1 + n, "\"");
        return s;
}

static char *with(const char *fmt, const char *arg)
{
        char *out = NULL;

        if (asprintf(&out, fmt, arg) < 0)
                abort();
        return out;
}

/* `what` (a format with one %s) is accepted with a string of `max` bytes
 * and refused with one more. */
static void check_string_bound(const char *fmt, size_t max)
{
        _cleanup_free_ char *ok_s = str_of(max, 'a'), *bad_s = str_of(max + 1, 'a');
        _cleanup_free_ char *ok = with(fmt, ok_s), *bad = with(fmt, bad_s);

        CHECK(parse_code(ok, NULL) == PS_OK);
        CHECK(invalid(bad));
}

/* A map of n entries "k<i>": "v" under `fmt`'s %s. */
static char *map_of(size_t n)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                abort();
        fputc('{', f);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s\"k%zu\":\"v\"", i ? "," : "", i);
        fputc('}', f);
        fclose(f);
        return buf;
}

static void check_count_bound(const char *fmt, size_t max)
{
        _cleanup_free_ char *ok_m = map_of(max), *bad_m = map_of(max + 1);
        _cleanup_free_ char *ok = with(fmt, ok_m), *bad = with(fmt, bad_m);
        _cleanup_spec_ struct ps_spec *s = parse(ok);

        CHECK(s != NULL);
        CHECK(s && (s->n_sysctls == max || s->n_annotations == max));
        CHECK(invalid(bad));
}

static void test_bounds(void)
{
        char *big;
        struct ps_spec *s = NULL;
        struct ps_err *e = NULL;

        check_string_bound("{\"process\":{\"cwd\":%s}," ROOT "}", PS_SPEC_MAX_PATH);
        check_string_bound("{" PROCESS ",\"root\":{\"path\":%s}}", PS_SPEC_MAX_PATH);
        check_string_bound(MINIMAL ",\"hostname\":%s}", PS_SPEC_MAX_HOSTNAME);
        check_string_bound(MINIMAL ",\"linux\":{\"cgroupsPath\":%s}}", PS_SPEC_MAX_PATH);
        check_string_bound(MINIMAL ",\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":"
                                   "%s}]}}",
                           PS_SPEC_MAX_PATH);
        check_string_bound(MINIMAL ",\"linux\":{\"sysctl\":{%s:\"1\"}}}", PS_SPEC_MAX_SYSCTL_KEY);
        check_string_bound(MINIMAL ",\"linux\":{\"sysctl\":{\"k\":%s}}}", PS_SPEC_MAX_SYSCTL_VALUE);
        check_string_bound(MINIMAL ",\"annotations\":{%s:\"v\"}}", PS_SPEC_MAX_ANNOTATION_KEY);
        check_string_bound(MINIMAL ",\"annotations\":{\"k\":%s}}", PS_SPEC_MAX_ANNOTATION_VALUE);
        check_count_bound(MINIMAL ",\"linux\":{\"sysctl\":%s}}", PS_SPEC_MAX_SYSCTLS);
        check_count_bound(MINIMAL ",\"annotations\":%s}", PS_SPEC_MAX_ANNOTATIONS);

        /* the file size: blanks after a valid spec still count */
        big = malloc(PS_SPEC_MAX_SIZE + 2);
        CHECK(big != NULL);
        if (!big)
                return;
        memset(big, ' ', PS_SPEC_MAX_SIZE + 1);
        memcpy(big, MINIMAL "}", strlen(MINIMAL "}"));
        CHECK_INTEQ(ps_spec_parse(big, PS_SPEC_MAX_SIZE, &s, &e), 0);
        s = ps_spec_free(s);
        CHECK_INTEQ(ps_spec_parse(big, PS_SPEC_MAX_SIZE + 1, &s, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT && !s);
        e = ps_err_free(e);
        free(big);
}

/* linux.uidMappings / gidMappings: typed and bounded here, judged by
 * oci/idmap.h where a task needs them. */
static void test_id_mappings(void)
{
        _cleanup_spec_ struct ps_spec *s =
            parse(MINIMAL ",\"linux\":{\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,"
                          "\"size\":65536},{\"containerID\":65536,\"hostID\":1,\"size\":1}],"
                          "\"gidMappings\":[{\"hostID\":200000,\"size\":4294967295}]}}");

        CHECK(s != NULL);
        if (s) {
                CHECK_INTEQ(s->n_uid_mappings, 2);
                CHECK_INTEQ(s->n_gid_mappings, 1);
                CHECK(s->uid_mappings && s->uid_mappings[0].container_id == 0 &&
                      s->uid_mappings[0].host_id == 100000 && s->uid_mappings[0].size == 65536);
                CHECK(s->uid_mappings && s->uid_mappings[1].container_id == 65536 &&
                      s->uid_mappings[1].host_id == 1 && s->uid_mappings[1].size == 1);
                /* an absent member is 0, as in Go */
                CHECK(s->gid_mappings && s->gid_mappings[0].container_id == 0 &&
                      s->gid_mappings[0].host_id == 200000 &&
                      s->gid_mappings[0].size == 4294967295u);
        }
        s = ps_spec_free(s);
        /* absent, null and empty are all none */
        s = parse(MINIMAL ",\"linux\":{\"uidMappings\":null,\"gidMappings\":[]}}");
        CHECK(s && !s->uid_mappings && !s->n_uid_mappings && !s->gid_mappings &&
              !s->n_gid_mappings);
        s = ps_spec_free(s);

        CHECK(invalid(MINIMAL ",\"linux\":{\"uidMappings\":{}}}"));
        CHECK(invalid(MINIMAL ",\"linux\":{\"uidMappings\":[1]}}"));
        CHECK(invalid(MINIMAL ",\"linux\":{\"gidMappings\":[{\"size\":\"1\"}]}}"));
        CHECK(invalid(MINIMAL ",\"linux\":{\"gidMappings\":[{\"hostID\":-1}]}}"));
        CHECK(invalid(MINIMAL ",\"linux\":{\"uidMappings\":[{\"hostID\":4294967296}]}}"));
        CHECK(invalid(MINIMAL ",\"linux\":{\"uidMappings\":[{\"containerID\":0.5}]}}"));

        /* at most PS_SPEC_MAX_ID_MAPPINGS entries */
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        CHECK(f != NULL);
        if (!f)
                return;
        fputs(MINIMAL ",\"linux\":{\"uidMappings\":[", f);
        for (unsigned i = 0; i < PS_SPEC_MAX_ID_MAPPINGS; i++)
                fprintf(f, "%s{\"containerID\":%u,\"hostID\":%u,\"size\":1}", i ? "," : "", i, i);
        fclose(f);
        _cleanup_free_ char *ok = NULL, *bad = NULL;
        CHECK(asprintf(&ok, "%s]}}", buf) > 0);
        CHECK(asprintf(&bad, "%s,{\"size\":1}]}}", buf) > 0);
        free(buf);
        s = ok ? parse(ok) : NULL;
        CHECK(s && s->n_uid_mappings == PS_SPEC_MAX_ID_MAPPINGS);
        CHECK(bad && invalid(bad));
}

static void test_load(void)
{
        char dir[] = "/tmp/test_spec.XXXXXX";
        _cleanup_free_ char *cfg = NULL;
        struct ps_spec *s = NULL;
        struct ps_err *e = NULL;
        const char *json = MINIMAL ",\"annotations\":{\"io.containerd.runc.v2.group\":\"g\"}}";

        CHECK(mkdtemp(dir) != NULL);
        CHECK_INTEQ(ps_spec_load(dir, &s, &e), -1);
        CHECK(e && e->code == PS_NOT_FOUND && !s);
        e = ps_err_free(e);
        CHECK(asprintf(&cfg, "%s/config.json", dir) > 0);
        CHECK_INTEQ(ps_write_file_atomic(cfg, "{}", 2, 0644, NULL), 0);
        CHECK_INTEQ(ps_spec_load(dir, &s, &e), -1);
        CHECK(e && e->code == PS_INVALID_ARGUMENT && strstr(ps_err_msg(e), "config.json"));
        e = ps_err_free(e);
        CHECK_INTEQ(ps_write_file_atomic(cfg, json, strlen(json), 0644, NULL), 0);
        CHECK_INTEQ(ps_spec_load(dir, &s, &e), 0);
        CHECK_STREQ(ps_spec_annotation(s, "io.containerd.runc.v2.group"), "g");
        ps_spec_free(s);
        unlink(cfg);
        rmdir(dir);
}

int main(void)
{
        RUN(test_minimal_defaults);
        RUN(test_every_field);
        RUN(test_null_and_empty);
        RUN(test_integers);
        RUN(test_bad_types);
        RUN(test_bounds);
        RUN(test_id_mappings);
        RUN(test_load);
        return check_summary();
}
