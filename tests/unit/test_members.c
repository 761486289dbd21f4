/* sandbox/linux/members.h: a pod's record of its members in its bundle. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "check.h"
#include "oci/options.h"
#include "sandbox/linux/members.h"
#include "scratch.h"

static bool has(char **ids, const char *id)
{
        for (char **p = ids; p && *p; p++)
                if (strcmp(*p, id) == 0)
                        return true;
        return false;
}

static void put_options(struct ps_options *o, const char *binary, const char *root)
{
        *o = (struct ps_options){0};
        CHECK(ps_options_set_str(&o->binary_name, binary, NULL) == 0);
        CHECK(ps_options_set_str(&o->root, root, NULL) == 0);
        o->systemd_cgroup = true;
}

/* What the `delete` action reads back is what the shim recorded. */
static void test_record_and_read_back(void)
{
        char pod[] = "/tmp/test_members.XXXXXX";
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_ char **ids = NULL;
        struct ps_options o, back = {0};
        size_t n = 99;

        CHECK(mkdtemp(pod) != NULL);
        /* a pod that recorded nothing has no member */
        CHECK(ps_members_list(pod, &ids, &n, NULL) == 0);
        CHECK_INTEQ(n, 0);
        CHECK(ids && ids[0] == NULL);
        ps_strv_free(ids);
        ids = NULL;

        put_options(&o, "/usr/bin/crun", "/run/x/crun");
        CHECK(ps_members_record(pod, "c1", &o, NULL) == 0);
        CHECK(ps_members_record(pod, "c2", &o, NULL) == 0);
        /* recording again overwrites */
        CHECK(ps_members_record(pod, "c2", &o, NULL) == 0);
        CHECK(ps_members_list(pod, &ids, &n, NULL) == 0);
        CHECK_INTEQ(n, 2);
        CHECK(has(ids, "c1") && has(ids, "c2"));
        CHECK(ids[n] == NULL);

        dir = ps_members_record_dir(pod, "c1", NULL);
        CHECK(dir != NULL);
        CHECK(ps_options_load(dir, &back, NULL) == 0);
        CHECK_STREQ(back.binary_name, "/usr/bin/crun");
        CHECK_STREQ(back.root, "/run/x/crun");
        CHECK(back.systemd_cgroup);

        /* forgetting removes the record with whatever else is in it (the
         * runtime's log of the action's delete), and twice is fine */
        {
                _cleanup_free_ char *log = NULL;
                CHECK(asprintf(&log, "%s/log.json", dir) > 0);
                CHECK(ps_write_file_atomic(log, "{}", 2, 0600, NULL) == 0);
        }
        CHECK(ps_members_forget(pod, "c1", NULL) == 0);
        CHECK(access(dir, F_OK) < 0);
        CHECK(ps_members_forget(pod, "c1", NULL) == 0);
        ps_strv_free(ids);
        ids = NULL;
        CHECK(ps_members_list(pod, &ids, &n, NULL) == 0);
        CHECK_INTEQ(n, 1);
        CHECK(has(ids, "c2") && !has(ids, "c1"));

        ps_options_clear(&o);
        ps_options_clear(&back);
        test_rm_rf(pod);
        CHECK(access(pod, F_OK) < 0);
}

/* Only directories named by valid ids are records: no path climbs out of
 * the pod's bundle, and nothing a link points at is taken for one. */
static void test_hostile_entries(void)
{
        char pod[] = "/tmp/test_members.XXXXXX";
        _cleanup_free_ char *members = NULL, *link = NULL, *file = NULL, *bad = NULL;
        _cleanup_free_ char *target = NULL, *canary = NULL;
        _cleanup_strv_ char **ids = NULL;
        struct ps_err *e = NULL;
        struct ps_options o;
        size_t n = 0;

        CHECK(mkdtemp(pod) != NULL);
        put_options(&o, "runc", "/run/containerd/runc");
        CHECK(ps_members_record(pod, "c1", &o, NULL) == 0);
        CHECK(asprintf(&members, "%s/" PS_LINUX_MEMBERS_DIR, pod) > 0);
        CHECK(asprintf(&link, "%s/linked", members) > 0);
        CHECK(asprintf(&target, "%s/target", pod) > 0);
        CHECK(asprintf(&canary, "%s/canary", target) > 0);
        CHECK(mkdir(target, 0700) == 0);
        CHECK(ps_write_file_atomic(canary, "x", 1, 0600, NULL) == 0);
        CHECK(symlink(target, link) == 0);
        CHECK(asprintf(&file, "%s/afile", members) > 0);
        CHECK(ps_write_file_atomic(file, "x", 1, 0600, NULL) == 0);
        CHECK(asprintf(&bad, "%s/bad..id", members) > 0);
        CHECK(mkdir(bad, 0700) == 0);
        CHECK(ps_members_list(pod, &ids, &n, NULL) == 0);
        CHECK_INTEQ(n, 1);
        CHECK(has(ids, "c1"));

        CHECK(ps_members_record(pod, "../escape", &o, &e) < 0);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        e = ps_err_free(e);
        CHECK(ps_members_forget(pod, "..", &e) < 0);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        e = ps_err_free(e);
        /* a record that is a link: forgetting it never empties its target */
        CHECK(ps_members_forget(pod, "linked", &e) < 0);
        CHECK(e != NULL);
        e = ps_err_free(e);
        CHECK(access(canary, F_OK) == 0);

        /* a pod bundle containerd removed is not made again */
        {
                _cleanup_free_ char *gone = NULL;
                CHECK(asprintf(&gone, "%s/removed-pod", pod) > 0);
                CHECK(ps_members_record(gone, "c1", &o, &e) < 0);
                CHECK(e && e->code == PS_FAILED_PRECONDITION);
                e = ps_err_free(e);
                CHECK(access(gone, F_OK) < 0);
        }

        ps_options_clear(&o);
        test_rm_rf(pod);
        CHECK(access(pod, F_OK) < 0);
}

int main(void)
{
        RUN(test_record_and_read_back);
        RUN(test_hostile_entries);
        return check_summary();
}
