#include "cgroup/paths.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/mountinfo.h"

/* Hard limits on what we read from /proc: a process has a few dozen cgroup
 * lines (mountinfo has its own, PS_MOUNTINFO_MAX). */
#define PROC_CGROUP_MAX (64 * 1024)
#define MAX_HIERARCHIES 64

static const char *const ctrl_names[PS_CGROUP_CTRL_MAX] = {
    [PS_CGROUP_MEMORY] = "memory", [PS_CGROUP_CPU] = "cpu",     [PS_CGROUP_CPUACCT] = "cpuacct",
    [PS_CGROUP_PIDS] = "pids",     [PS_CGROUP_BLKIO] = "blkio", [PS_CGROUP_HUGETLB] = "hugetlb",
};

/* One line of /proc/<pid>/cgroup, pointing into the file buffer. */
struct membership {
        const char *ctrls; /* "cpu,cpuacct"; "" for the cgroup2 line */
        const char *path;
};

struct memberships {
        struct membership m[MAX_HIERARCHIES];
        size_t n;
};

/* True if the `sep`-separated `list` contains exactly `word`. */
static bool list_has(const char *list, const char *word, char sep)
{
        size_t wl = strlen(word);

        for (const char *p = list; p && *p;) {
                const char *end = strchr(p, sep);
                size_t len = end ? (size_t)(end - p) : strlen(p);

                if (len == wl && strncmp(p, word, wl) == 0)
                        return true;
                p = end ? end + 1 : NULL;
        }
        return false;
}

static int parse_proc_cgroup(char *buf, struct memberships *ms, struct ps_err **err)
{
        char *save = NULL;

        ms->n = 0;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *c1 = strchr(line, ':');
                char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

                if (!c2 || c2[1] != '/')
                        return ps_err_set(err, PS_INTERNAL, "malformed cgroup line '%s'", line);
                if (ms->n == MAX_HIERARCHIES)
                        break;
                *c1 = *c2 = '\0';
                ms->m[ms->n].ctrls = c1 + 1;
                ms->m[ms->n].path = c2 + 1;
                ms->n++;
        }
        return 0;
}

/* The directory of cgroup `cgpath` under a mount of the part `root` of its
 * hierarchy at `mnt`; NULL (errno EXDEV) when the cgroup lies outside. */
static char *join_cgroup(const char *mnt, const char *root, const char *cgpath)
{
        const char *rel = cgpath;
        size_t rl = strlen(root);
        char *out = NULL;

        if (strcmp(root, "/") != 0) {
                if (strncmp(cgpath, root, rl) != 0 || (cgpath[rl] != '\0' && cgpath[rl] != '/')) {
                        errno = EXDEV;
                        return NULL;
                }
                rel = cgpath + rl;
        }
        if (rel[0] == '\0' || strcmp(rel, "/") == 0)
                return strdup(mnt);
        if (asprintf(&out, "%s%s", mnt, rel) < 0)
                return NULL;
        return out;
}

/* Sets *slot (if still empty) from the membership line matching `want`. */
static int resolve(char **slot, const struct ps_mountinfo_entry *ml, const struct memberships *ms,
                   const char *want, struct ps_err **err)
{
        for (size_t i = 0; i < ms->n && !*slot; i++) {
                bool v2 = ms->m[i].ctrls[0] == '\0';

                if (want ? v2 || !list_has(ms->m[i].ctrls, want, ',') : !v2)
                        continue;
                *slot = join_cgroup(ml->mount_point, ml->root, ms->m[i].path);
                if (!*slot && errno != EXDEV)
                        return ps_err_errno(err, errno, PS_UNKNOWN, "cgroup path");
        }
        return 0;
}

static int apply_mount(struct ps_cgroup_paths *p, const struct ps_mountinfo_entry *ml,
                       const struct memberships *ms, struct ps_err **err)
{
        if (strcmp(ml->fstype, "cgroup2") == 0)
                return resolve(&p->unified, ml, ms, NULL, err);
        if (strcmp(ml->fstype, "cgroup") != 0)
                return 0;
        for (int c = 0; c < PS_CGROUP_CTRL_MAX; c++) {
                if (!list_has(ml->super_options, ctrl_names[c], ','))
                        continue;
                if (c == PS_CGROUP_MEMORY)
                        p->memory_v1 = true;
                if (resolve(&p->v1[c], ml, ms, ctrl_names[c], err) < 0)
                        return -1;
        }
        return 0;
}

int ps_cgroup_paths_from(const char *const *ctrls, const char *const *dirs, size_t n,
                         struct ps_cgroup_paths **ret, struct ps_err **err)
{
        _cleanup_(ps_cgroup_paths_freep) struct ps_cgroup_paths *p = calloc(1, sizeof(*p));

        if (!p)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "cgroup paths");
        for (size_t i = 0; i < n; i++) {
                char **slot = NULL;

                if (ctrls[i][0] == '\0') {
                        slot = p->unified ? NULL : &p->unified;
                        if (slot && !(*slot = strdup(dirs[i])))
                                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "cgroup paths");
                        continue;
                }
                for (int c = 0; c < PS_CGROUP_CTRL_MAX; c++) {
                        if (!list_has(ctrls[i], ctrl_names[c], ',') || p->v1[c])
                                continue;
                        if (c == PS_CGROUP_MEMORY)
                                p->memory_v1 = true;
                        if (!(p->v1[c] = strdup(dirs[i])))
                                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "cgroup paths");
                }
        }
        *ret = TAKE_PTR(p);
        return 0;
}

struct ps_cgroup_paths *ps_cgroup_paths_free(struct ps_cgroup_paths *p)
{
        if (!p)
                return NULL;
        for (int c = 0; c < PS_CGROUP_CTRL_MAX; c++)
                free(p->v1[c]);
        free(p->unified);
        free(p);
        return NULL;
}

bool ps_cgroup_paths_use_v1(const struct ps_cgroup_paths *p)
{
        return p->memory_v1;
}

int ps_cgroup_paths_of(pid_t pid, struct ps_cgroup_paths **ret, struct ps_err **err)
{
        _cleanup_(ps_cgroup_paths_freep) struct ps_cgroup_paths *p = NULL;
        _cleanup_free_ char *cgbuf = NULL;
        _cleanup_(ps_mountinfo_freep) struct ps_mountinfo *mi = NULL;
        struct memberships ms;
        char path[64];

        if (pid <= 0)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid pid %d", (int)pid);
        snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
        if (ps_read_file(path, PROC_CGROUP_MAX, &cgbuf, NULL, err) < 0)
                return ps_err_prefix(err, "cgroups of pid %d", (int)pid);
        if (parse_proc_cgroup(cgbuf, &ms, err) < 0)
                return -1;
        if (ps_mountinfo_read(&mi, err) < 0)
                return -1;
        p = calloc(1, sizeof(*p));
        if (!p)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "cgroup paths");
        for (size_t i = 0; i < mi->n; i++) {
                if (apply_mount(p, &mi->e[i], &ms, err) < 0)
                        return -1;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

/* --- the mounted hierarchies */

#define PROC_CGROUPS_MAX (64 * 1024)

struct ps_cgroup_mounts *ps_cgroup_mounts_free(struct ps_cgroup_mounts *m)
{
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n; i++) {
                free(m->m[i].dir);
                free(m->m[i].ctrls);
        }
        free(m);
        return NULL;
}

/* True if `name` is a subsystem line of /proc/cgroups ("cpu\t1\t57\t1"). */
static bool known_ctrl(const char *proc_cgroups, const char *name, size_t len)
{
        for (const char *l = proc_cgroups; l && *l;) {
                if (l[0] != '#' && strncmp(l, name, len) == 0 && (l[len] == '\t' || l[len] == ' '))
                        return true;
                l = strchr(l, '\n');
                if (l)
                        l++;
        }
        return false;
}

/* The controllers among a v1 mount's super options ("rw,cpu,cpuacct" ->
 * "cpu,cpuacct"); "" for a named-only hierarchy. NULL on ENOMEM. */
static char *v1_ctrls(const char *superopts, const char *proc_cgroups)
{
        char *out = malloc(strlen(superopts) + 1);
        size_t n = 0;

        if (!out)
                return NULL;
        for (const char *p = superopts; *p; p += *p == ',') {
                size_t len = strcspn(p, ",");

                if (known_ctrl(proc_cgroups, p, len)) {
                        if (n)
                                out[n++] = ',';
                        memcpy(out + n, p, len);
                        n += len;
                }
                p += len;
        }
        out[n] = '\0';
        return out;
}

/* True if a listed v1 hierarchy has controller `ctrl` (the first of a
 * later mount's list: the same hierarchy mounted again). */
static bool v1_listed(const struct ps_cgroup_mounts *m, const char *ctrls)
{
        size_t len = strcspn(ctrls, ",");

        for (size_t i = 0; i < m->n; i++) {
                const char *c = m->m[i].ctrls;

                for (; !m->m[i].v2 && *c; c += *c == ',') {
                        size_t cl = strcspn(c, ",");

                        if (cl == len && strncmp(c, ctrls, len) == 0)
                                return true;
                        c += cl;
                }
        }
        return false;
}

static int add_mount(struct ps_cgroup_mounts *m, const char *dir, char *ctrls, bool v2,
                     struct ps_err **err)
{
        struct ps_cgroup_mount *e;

        if (m->n == PS_CGROUP_MOUNTS_MAX) {
                free(ctrls);
                return ps_err_set(err, PS_RESOURCE_EXHAUSTED, "more than %d cgroup hierarchies",
                                  PS_CGROUP_MOUNTS_MAX);
        }
        e = &m->m[m->n++]; /* counted first: ps_cgroup_mounts_free frees a partial entry */
        e->ctrls = ctrls;
        e->dir = strdup(dir);
        e->v2 = v2;
        if (!e->ctrls || !e->dir)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "cgroup mounts");
        return 0;
}

static int list_mount(struct ps_cgroup_mounts *m, const struct ps_mountinfo_entry *ml,
                      const char *proc_cgroups, char **unified, struct ps_err **err)
{
        char *ctrls;

        if (strcmp(ml->fstype, "cgroup2") == 0) {
                if (!*unified && !(*unified = strdup(ml->mount_point)))
                        return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "cgroup mounts");
                return 0;
        }
        if (strcmp(ml->fstype, "cgroup") != 0)
                return 0;
        ctrls = v1_ctrls(ml->super_options, proc_cgroups);
        if (ctrls && (ctrls[0] == '\0' || v1_listed(m, ctrls))) {
                free(ctrls);
                return 0;
        }
        return add_mount(m, ml->mount_point, ctrls, false, err);
}

int ps_cgroup_mounts_list(struct ps_cgroup_mounts **ret, struct ps_err **err)
{
        _cleanup_free_ char *cgbuf = NULL, *unified = NULL;
        _cleanup_(ps_mountinfo_freep) struct ps_mountinfo *mi = NULL;
        struct ps_cgroup_mounts *m = NULL;

        if (ps_read_file("/proc/cgroups", PROC_CGROUPS_MAX, &cgbuf, NULL, err) < 0 ||
            ps_mountinfo_read(&mi, err) < 0)
                return -1;
        m = calloc(1, sizeof(*m));
        if (!m)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "cgroup mounts");
        for (size_t i = 0; i < mi->n; i++) {
                if (list_mount(m, &mi->e[i], cgbuf, &unified, err) < 0)
                        goto fail;
        }
        if (unified && add_mount(m, unified, strdup(""), true, err) < 0)
                goto fail;
        *ret = m;
        return 0;
fail:
        ps_cgroup_mounts_free(m);
        return -1;
}
