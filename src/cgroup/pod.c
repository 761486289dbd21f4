/* The pod cgroup, with plain cgroupfs calls and no libcgroup.
 *
 * The shim daemon serves a pod for its whole life, so its memory is paid
 * once per pod. cgroup_init() fills libcgroup's static mount tables (about
 * 2.4 MB of .bss in libcgroup 2.0.2); measured, calling it made ~850 kB of
 * them resident for the life of every per-pod shim, against a budget of
 * < 400 kB PSS per pod in total. So the daemon never initialises libcgroup:
 * the hierarchies come from cgroup/paths.h (mountinfo and /proc/cgroups),
 * values are written with bounded writes. (libcgroup 2.0.2 would not fit
 * most of this anyway: cgroup_create_cgroup swallows EEXIST, so it cannot
 * tell which directories it made; its v1 attach writes `tasks`, one thread;
 * cgroup_delete_cgroup migrates tasks instead of refusing; it flattens
 * errno.) Short-lived processes such as `start` may still use libcgroup.
 */
#include "cgroup/pod.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "cgroup/cgfile.h"
#include "cgroup/paths.h"

/* One bit per path component in hier.created. */
#define POD_MAX_DEPTH 64
#define POD_MAX_HIER  PS_POD_CGROUP_MAX_HIER
/* systemd's limit on unit names (UNIT_NAME_MAX - 1). */
#define UNIT_NAME_LEN 255
#define SLICE_SUFFIX  ".slice"

struct hier {
        char *root;       /* mount point of the hierarchy */
        char *ctrls;      /* "memory", "cpu,cpuacct", "" (cgroup2) */
        char *dir;        /* root + path: the cgroup itself */
        bool v2;          /* a cgroup2 mount */
        bool membership;  /* cgroup2 of a hybrid host: mkdir, attach, rmdir, nothing else */
        uint64_t created; /* bit i: we made component i (0 = topmost) */
};

struct ps_pod_cgroup {
        char *path; /* "/a/b/c" */
        size_t depth;
        size_t nh;
        struct hier h[POD_MAX_HIER];
};

/* The v2 controllers the pod cgroup uses: cpu and memory for its
 * resources and OOM events, these and pids, io and hugetlb for its metrics
 * (cgroup/stats.h). Nothing else is ever enabled for it. */
static const char *const v2_wanted[] = {"cpu", "io", "memory", "pids", "hugetlb"};

/* --- small helpers */

/* True if `word` is an element of `list`, split at any char of `seps`. */
static bool word_in(const char *list, const char *word, const char *seps)
{
        size_t wl = strlen(word);

        for (const char *p = list; *p;) {
                size_t len = strcspn(p, seps);

                if (len == wl && strncmp(p, word, wl) == 0)
                        return true;
                p += len;
                p += strspn(p, seps);
        }
        return false;
}

static bool blank(const char *s)
{
        return s[strspn(s, " \t\n")] == '\0';
}

static int write_file(const char *dir, const char *file, const char *val, struct ps_err **err)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -1;
        size_t len = strlen(val);
        ssize_t n;

        if (asprintf(&path, "%s/%s", dir, file) < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "cgroup file path");
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "open %s", path);
        n = write(fd, val, len);
        if (n != (ssize_t)len)
                return ps_err_errno(err, n < 0 ? errno : EIO, PS_UNKNOWN, "write '%s' to %s", val,
                                    path);
        return 0;
}

/* --- path validation and systemd expansion */

static bool unit_char_ok(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '.' || c == '-' || c == '\\' || c == '@';
}

static bool unit_word_ok(const char *s, bool allow_empty)
{
        if (!*s)
                return allow_empty;
        for (; *s; s++)
                if (!unit_char_ok(*s))
                        return false;
        return true;
}

/* "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" -> "" (the
 * root). Each '-' separated prefix is a parent slice, as systemd has it. */
static int expand_slice(const char *slice, char **ret, struct ps_err **err)
{
        size_t len = strlen(slice), base = len - strlen(SLICE_SUFFIX), cap, n = 0;
        _cleanup_free_ char *out = NULL;

        if (strcmp(slice, "-" SLICE_SUFFIX) == 0)
                return (*ret = strdup("")) ? 0 : ps_err_errno(err, ENOMEM, PS_UNKNOWN, "slice");
        if (len <= strlen(SLICE_SUFFIX) || len > UNIT_NAME_LEN ||
            strcmp(slice + base, SLICE_SUFFIX) != 0 || !unit_word_ok(slice, false) ||
            slice[0] == '-' || slice[base - 1] == '-' || strstr(slice, "--"))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid slice name '%s'", slice);
        /* at most one "/<prefix>.slice" per '-', each no longer than the whole */
        cap = (len + 2) * (base + 1) + 1;
        out = malloc(cap);
        if (!out)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "slice path");
        for (size_t i = 1; i <= base; i++) {
                if (i < base && slice[i] != '-')
                        continue;
                n += (size_t)snprintf(out + n, cap - n, "/%.*s%s", (int)i, slice, SLICE_SUFFIX);
        }
        out[n] = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}

/* "slice:prefix:name" -> "<expanded slice>/<prefix>-<name>.scope". An empty
 * slice is system.slice (runc's default); a name ending in ".slice" is
 * itself a slice and sits where its own name puts it. */
static int systemd_path(const char *in, char **ret, struct ps_err **err)
{
        const char *c1 = strchr(in, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        _cleanup_free_ char *slice = NULL, *prefix = NULL, *parent = NULL;
        const char *name;

        if (!c2 || strchr(c2 + 1, ':'))
                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                  "systemd cgroupsPath '%s' is not slice:prefix:name", in);
        slice = c1 == in ? strdup("system" SLICE_SUFFIX) : strndup(in, (size_t)(c1 - in));
        prefix = strndup(c1 + 1, (size_t)(c2 - c1 - 1));
        name = c2 + 1;
        if (!slice || !prefix)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "cgroupsPath");
        if (!unit_word_ok(name, false) || !unit_word_ok(prefix, true) ||
            strlen(prefix) + strlen(name) + strlen("-.scope") > UNIT_NAME_LEN)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid unit name in cgroupsPath '%s'",
                                  in);
        if (strlen(name) > strlen(SLICE_SUFFIX) &&
            strcmp(name + strlen(name) - strlen(SLICE_SUFFIX), SLICE_SUFFIX) == 0)
                return expand_slice(name, ret, err);
        if (expand_slice(slice, &parent, err) < 0)
                return -1;
        if (asprintf(ret, "%s/%s%s%s.scope", parent, prefix, prefix[0] ? "-" : "", name) < 0)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "cgroupsPath");
        return 0;
}

/* "a//b/" -> "/a/b"; rejects the root, "." and ".." components, control
 * characters and over-long names. */
static int normalize(const char *in, char **ret, struct ps_err **err)
{
        size_t len = strlen(in), n = 0, depth = 0;
        _cleanup_free_ char *out = NULL;

        if (len == 0 || len >= PATH_MAX)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid cgroupsPath '%s'", in);
        out = malloc(len + 2);
        if (!out)
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "cgroupsPath");
        for (const char *p = in + strspn(in, "/"); *p; p += strspn(p, "/")) {
                size_t cl = strcspn(p, "/");

                if ((cl == 1 && p[0] == '.') || (cl == 2 && p[0] == '.' && p[1] == '.') ||
                    cl > NAME_MAX || ++depth > POD_MAX_DEPTH)
                        return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid cgroupsPath '%s'", in);
                for (size_t i = 0; i < cl; i++)
                        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
                                return ps_err_set(err, PS_INVALID_ARGUMENT,
                                                  "control character in cgroupsPath");
                out[n++] = '/';
                memcpy(out + n, p, cl);
                n += cl;
                p += cl;
        }
        if (depth == 0)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "cgroupsPath '%s' names the root", in);
        out[n] = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}

int ps_pod_cgroup_expand_path(const char *cgroups_path, bool systemd, char **ret_path,
                              struct ps_err **err)
{
        _cleanup_free_ char *expanded = NULL;

        if (!cgroups_path)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "no cgroupsPath");
        if (systemd && systemd_path(cgroups_path, &expanded, err) < 0)
                return -1;
        return normalize(expanded ? expanded : cgroups_path, ret_path, err);
}

uint64_t ps_pod_cgroup_shares_to_weight(uint64_t shares)
{
        if (shares == 0)
                return 0;
        if (shares < 2)
                shares = 2;
        if (shares > 262144)
                shares = 262144;
        return 1 + ((shares - 2) * 9999) / 262142;
}

/* --- the handle and hierarchy discovery */

struct ps_pod_cgroup *ps_pod_cgroup_free(struct ps_pod_cgroup *cg)
{
        if (!cg)
                return NULL;
        for (size_t i = 0; i < cg->nh; i++) {
                free(cg->h[i].root);
                free(cg->h[i].ctrls);
                free(cg->h[i].dir);
        }
        free(cg->path);
        free(cg);
        return NULL;
}

const char *ps_pod_cgroup_path(const struct ps_pod_cgroup *cg)
{
        return cg->path;
}

static struct ps_pod_cgroup *pod_new(const char *cgroups_path, bool systemd, struct ps_err **err)
{
        struct ps_pod_cgroup *cg;
        char *path = NULL;

        if (ps_pod_cgroup_expand_path(cgroups_path, systemd, &path, err) < 0)
                return NULL;
        cg = calloc(1, sizeof(*cg));
        if (!cg) {
                free(path);
                ps_err_errno(err, ENOMEM, PS_UNKNOWN, "pod cgroup");
                return NULL;
        }
        cg->path = path;
        for (const char *p = path; *p; p++)
                cg->depth += *p == '/';
        return cg;
}

/* Adds the hierarchy mounted at `root` with controllers `ctrls`. */
static int add_hier(struct ps_pod_cgroup *cg, const char *root, const char *ctrls, bool v2,
                    bool membership, struct ps_err **err)
{
        struct hier *h;

        if (cg->nh == POD_MAX_HIER)
                return ps_err_set(err, PS_RESOURCE_EXHAUSTED, "more than %d cgroup hierarchies",
                                  POD_MAX_HIER);
        h = &cg->h[cg->nh++]; /* counted first: ps_pod_cgroup_free frees a partial entry */
        h->root = strdup(root);
        h->ctrls = strdup(ctrls);
        if (!h->root || !h->ctrls || asprintf(&h->dir, "%s%s", root, cg->path) < 0) {
                h->dir = NULL;
                return ps_err_errno(err, ENOMEM, PS_UNKNOWN, "cgroup hierarchy");
        }
        if (strlen(h->dir) >= PATH_MAX)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "cgroup path too long: %s", h->dir);
        h->v2 = v2;
        h->membership = membership;
        return 0;
}

/* Every v1 hierarchy with a controller, and the cgroup2 one. With any v1
 * hierarchy mounted (hybrid) the cgroup2 one is membership only, whatever
 * controllers it holds: as runc has it, and because a controller enabled
 * there stays bound to cgroup2 (crun then refuses the host, and the
 * controller can no longer be mounted as v1). */
static int discover(struct ps_pod_cgroup *cg, struct ps_err **err)
{
        _cleanup_(ps_cgroup_mounts_freep) struct ps_cgroup_mounts *m = NULL;
        bool hybrid = false;

        if (ps_cgroup_mounts_list(&m, err) < 0)
                return -1;
        for (size_t i = 0; i < m->n; i++)
                hybrid = hybrid || !m->m[i].v2;
        for (size_t i = 0; i < m->n; i++) {
                const struct ps_cgroup_mount *mp = &m->m[i];

                if (add_hier(cg, mp->dir, mp->ctrls, mp->v2, mp->v2 && hybrid, err) < 0)
                        return -1;
        }
        if (cg->nh == 0)
                return ps_err_set(err, PS_FAILED_PRECONDITION, "no cgroup hierarchy is mounted");
        return 0;
}

/* --- create */

/* 1 if we made `dir`, 0 if it was there already. */
static int make_dir(const char *dir, struct ps_err **err)
{
        struct stat st;

        if (mkdir(dir, 0755) == 0)
                return 1;
        if (errno != EEXIST)
                return ps_err_errno(err, errno, PS_UNKNOWN, "mkdir %s", dir);
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "%s exists and is not a cgroup", dir);
        return 0;
}

/* v2-only host: a child only gets the controllers its parent enables in
 * subtree_control, so each directory above the pod cgroup enables those of
 * v2_wanted that it has itself and does not enable yet. Best effort: a
 * parent with processes of its own cannot enable any (EBUSY), and the pod
 * then lives without that controller. */
static void v2_enable_controllers(const char *dir)
{
        _cleanup_free_ char *avail = NULL, *enabled = NULL;
        _cleanup_err_ struct ps_err *e = NULL;

        if (ps_cgfile_read(dir, "cgroup.controllers", &avail, &e) <= 0 ||
            ps_cgfile_read(dir, "cgroup.subtree_control", &enabled, &e) <= 0)
                return;
        for (size_t i = 0; i < sizeof(v2_wanted) / sizeof(v2_wanted[0]); i++) {
                char op[32];

                if (!word_in(avail, v2_wanted[i], " \n") || word_in(enabled, v2_wanted[i], " \n"))
                        continue;
                snprintf(op, sizeof(op), "+%s", v2_wanted[i]);
                if (write_file(dir, "cgroup.subtree_control", op, &e) < 0) {
                        ps_log_debug("cgroup: %s", ps_err_msg(e));
                        e = ps_err_free(e);
                }
        }
}

/* v1 cpuset: a new cgroup starts with empty cpus and mems, and attaching a
 * process to it fails (ENOSPC) until they are set; inherit the parent's. */
static int v1_cpuset_fill(const char *parent, const char *dir, struct ps_err **err)
{
        static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};

        for (size_t i = 0; i < 2; i++) {
                _cleanup_free_ char *mine = NULL, *theirs = NULL;
                int r = ps_cgfile_read(dir, files[i], &mine, err);

                if (r < 0)
                        return -1;
                if (r == 0 || !blank(mine))
                        continue;
                r = ps_cgfile_read(parent, files[i], &theirs, err);
                if (r < 0)
                        return -1;
                if (r == 0 || blank(theirs))
                        continue;
                theirs[strcspn(theirs, "\n")] = '\0';
                if (write_file(dir, files[i], theirs, err) < 0)
                        return -1;
        }
        return 0;
}

/* Creates h->root + path one component at a time, noting what we made. */
static int hier_create(struct hier *h, const char *path, struct ps_err **err)
{
        char dir[PATH_MAX], parent[PATH_MAX];
        size_t n = strlen(h->root);
        bool cpuset = !h->v2 && word_in(h->ctrls, "cpuset", ",");
        unsigned i = 0;

        memcpy(dir, h->root, n + 1);
        for (const char *p = path; *p; i++) {
                size_t cl = strcspn(p + 1, "/") + 1; /* "/name" */
                int r;

                if (h->v2 && !h->membership)
                        v2_enable_controllers(dir);
                memcpy(parent, dir, n + 1);
                memcpy(dir + n, p, cl);
                n += cl;
                dir[n] = '\0';
                p += cl;
                r = make_dir(dir, err);
                if (r < 0)
                        return -1;
                /* The leaf is the handle's even if a dead shim left it. */
                if (r > 0 || *p == '\0')
                        h->created |= 1ULL << i;
                if (cpuset && v1_cpuset_fill(parent, dir, err) < 0)
                        return -1;
        }
        return 0;
}

/* Length of the path prefix that ends with component `i`. */
static size_t comp_end(const char *path, size_t i)
{
        const char *p = path;

        for (size_t k = 0; k <= i; k++)
                p += 1 + strcspn(p + 1, "/");
        return (size_t)(p - path);
}

static void comp_dir(const struct hier *h, const char *path, size_t i, char *buf, size_t size)
{
        snprintf(buf, size, "%s%.*s", h->root, (int)comp_end(path, i), path);
}

/* Best-effort undo of a failed create, deepest first. */
static void undo_create(struct ps_pod_cgroup *cg)
{
        char dir[PATH_MAX];

        for (size_t k = 0; k < cg->nh; k++) {
                struct hier *h = &cg->h[k];

                for (size_t i = cg->depth; i-- > 0;) {
                        if (!(h->created & (1ULL << i)))
                                continue;
                        comp_dir(h, cg->path, i, dir, sizeof(dir));
                        if (rmdir(dir) == 0 || errno == ENOENT)
                                h->created &= ~(1ULL << i);
                }
        }
}

static struct ps_pod_cgroup *create_all(struct ps_pod_cgroup *cg, struct ps_err **err)
{
        for (size_t k = 0; k < cg->nh; k++) {
                if (hier_create(&cg->h[k], cg->path, err) < 0) {
                        undo_create(cg);
                        ps_err_prefix(err, "create cgroup %s", cg->path);
                        return ps_pod_cgroup_free(cg);
                }
        }
        return cg;
}

struct ps_pod_cgroup *ps_pod_cgroup_create(const char *cgroups_path, bool systemd,
                                           struct ps_err **err)
{
        struct ps_pod_cgroup *cg = pod_new(cgroups_path, systemd, err);

        if (!cg)
                return NULL;
        if (discover(cg, err) < 0)
                return ps_pod_cgroup_free(cg);
        return create_all(cg, err);
}

/* --- a cgroup a shim that died left */

struct ps_pod_cgroup *ps_pod_cgroup_open(const char *cgroups_path, bool systemd,
                                         struct ps_err **err)
{
        struct ps_pod_cgroup *cg = pod_new(cgroups_path, systemd, err);
        bool any = false;
        struct stat st;

        if (!cg)
                return NULL;
        if (discover(cg, err) < 0)
                return ps_pod_cgroup_free(cg);
        /* the leaf alone: whoever made its parents, we cannot tell now */
        for (size_t k = 0; k < cg->nh; k++) {
                if (stat(cg->h[k].dir, &st) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                cg->h[k].created |= 1ULL << (cg->depth - 1);
                any = true;
        }
        if (!any) {
                ps_err_set(err, PS_NOT_FOUND, "cgroup %s: in no hierarchy", cg->path);
                return ps_pod_cgroup_free(cg);
        }
        return cg;
}

/* --- attach */

static int open_in(const char *dir, const char *file, int flags, struct ps_err **err)
{
        char path[PATH_MAX];
        int fd;

        if ((size_t)snprintf(path, sizeof(path), "%s%s%s", dir, file ? "/" : "",
                             file ? file : "") >= sizeof(path))
                return ps_err_set(err, PS_INVALID_ARGUMENT, "cgroup path too long: %s", dir);
        fd = open(path, flags | O_CLOEXEC);
        if (fd < 0)
                return ps_err_errno(err, errno, PS_UNKNOWN, "open %s", path);
        return fd;
}

void ps_pod_cgroup_entry_close(struct ps_pod_cgroup_entry *e)
{
        if (e->dir >= 0)
                close(e->dir);
        for (size_t k = 0; k < e->n_self; k++)
                close(e->self[k]);
        if (e->later >= 0)
                close(e->later);
        *e = (struct ps_pod_cgroup_entry){.dir = -1, .later = -1};
}

int ps_pod_cgroup_entry_open(const struct ps_pod_cgroup *cg, struct ps_pod_cgroup_entry *e,
                             struct ps_err **err)
{
        *e = (struct ps_pod_cgroup_entry){.dir = -1, .later = -1};
        for (size_t k = 0; k < cg->nh; k++) {
                const struct hier *h = &cg->h[k];
                int fd;

                if (h->membership) {
                        e->later = open_in(h->dir, "cgroup.procs", O_WRONLY, err);
                        if (e->later < 0)
                                goto fail;
                        continue;
                }
                if (h->v2) {
                        e->dir = open_in(h->dir, NULL, O_RDONLY | O_DIRECTORY, err);
                        if (e->dir < 0)
                                goto fail;
                }
                fd = open_in(h->dir, h->v2 ? "cgroup.procs" : "tasks", O_WRONLY, err);
                if (fd < 0)
                        goto fail;
                e->self[e->n_self++] = fd;
        }
        return 0;
fail:
        ps_pod_cgroup_entry_close(e);
        return ps_err_prefix(err, "enter cgroup %s", cg->path);
}

int ps_pod_cgroup_paths(const struct ps_pod_cgroup *cg, struct ps_cgroup_paths **ret,
                        struct ps_err **err)
{
        const char *ctrls[POD_MAX_HIER], *dirs[POD_MAX_HIER];

        for (size_t k = 0; k < cg->nh; k++) {
                ctrls[k] = cg->h[k].v2 ? "" : cg->h[k].ctrls;
                dirs[k] = cg->h[k].dir;
        }
        return ps_cgroup_paths_from(ctrls, dirs, cg->nh, ret, err);
}

int ps_pod_cgroup_attach(struct ps_pod_cgroup *cg, pid_t pid, struct ps_err **err)
{
        char buf[32];

        if (pid <= 0)
                return ps_err_set(err, PS_INVALID_ARGUMENT, "invalid pid %d", (int)pid);
        snprintf(buf, sizeof(buf), "%d", (int)pid);
        /* cgroup.procs moves every thread of the process, in v1 as in v2. */
        for (size_t k = 0; k < cg->nh; k++)
                if (write_file(cg->h[k].dir, "cgroup.procs", buf, err) < 0)
                        return ps_err_prefix(err, "attach pid %d", (int)pid);
        return 0;
}

/* --- resources */

static const struct hier *v1_hier_with(const struct ps_pod_cgroup *cg, const char *ctrl)
{
        for (size_t k = 0; k < cg->nh; k++)
                if (!cg->h[k].v2 && word_in(cg->h[k].ctrls, ctrl, ","))
                        return &cg->h[k];
        return NULL;
}

static int write_i64(const char *dir, const char *file, int64_t v, struct ps_err **err)
{
        char buf[24];

        snprintf(buf, sizeof(buf), "%" PRId64, v);
        return write_file(dir, file, buf, err);
}

/* The period goes before the quota, as runc does, so that a quota valid
 * for the new period is accepted. */
static int v1_set(const struct ps_pod_cgroup *cg, uint64_t shares, int64_t quota, uint64_t period,
                  int64_t limit, struct ps_err **err)
{
        const struct hier *cpu = v1_hier_with(cg, "cpu"), *mem = v1_hier_with(cg, "memory");

        if (cpu && shares && write_i64(cpu->dir, "cpu.shares", (int64_t)shares, err) < 0)
                return -1;
        if (cpu && period && write_i64(cpu->dir, "cpu.cfs_period_us", (int64_t)period, err) < 0)
                return -1;
        if (cpu && quota &&
            write_i64(cpu->dir, "cpu.cfs_quota_us", quota < 0 ? -1 : quota, err) < 0)
                return -1;
        if (mem && limit &&
            write_i64(mem->dir, "memory.limit_in_bytes", limit < 0 ? -1 : limit, err) < 0)
                return -1;
        return 0;
}

static int v2_set(const struct hier *h, uint64_t shares, int64_t quota, uint64_t period,
                  int64_t limit, struct ps_err **err)
{
        _cleanup_free_ char *ctrls = NULL;
        char buf[64];
        int n;

        /* What this very cgroup has: its parent may not have enabled all. */
        n = ps_cgfile_read(h->dir, "cgroup.controllers", &ctrls, err);
        if (n <= 0)
                return n < 0 ? -1 : ps_err_set(err, PS_NOT_FOUND, "cgroup %s is gone", h->dir);
        if (shares && word_in(ctrls, "cpu", " \n")) {
                snprintf(buf, sizeof(buf), "%" PRIu64, ps_pod_cgroup_shares_to_weight(shares));
                if (write_file(h->dir, "cpu.weight", buf, err) < 0)
                        return -1;
        }
        if ((quota || period) && word_in(ctrls, "cpu", " \n")) {
                n = quota > 0 ? snprintf(buf, sizeof(buf), "%" PRId64, quota)
                              : snprintf(buf, sizeof(buf), "max");
                if (period)
                        snprintf(buf + n, sizeof(buf) - (size_t)n, " %" PRIu64, period);
                if (write_file(h->dir, "cpu.max", buf, err) < 0)
                        return -1;
        }
        if (limit && word_in(ctrls, "memory", " \n")) {
                if (limit > 0)
                        snprintf(buf, sizeof(buf), "%" PRId64, limit);
                else
                        snprintf(buf, sizeof(buf), "max");
                if (write_file(h->dir, "memory.max", buf, err) < 0)
                        return -1;
        }
        return 0;
}

int ps_pod_cgroup_set_resources(struct ps_pod_cgroup *cg, uint64_t cpu_shares, int64_t cpu_quota,
                                uint64_t cpu_period, int64_t memory_limit, struct ps_err **err)
{
        for (size_t k = 0; k < cg->nh; k++) {
                if (cg->h[k].v2 && !cg->h[k].membership &&
                    v2_set(&cg->h[k], cpu_shares, cpu_quota, cpu_period, memory_limit, err) < 0)
                        return ps_err_prefix(err, "cgroup %s resources", cg->path);
        }
        if (v1_set(cg, cpu_shares, cpu_quota, cpu_period, memory_limit, err) < 0)
                return ps_err_prefix(err, "cgroup %s resources", cg->path);
        return 0;
}

/* --- remove */

static bool has_subdirs(const char *dir)
{
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return false;
        while ((de = readdir(d)))
                if (de->d_type == DT_DIR && strcmp(de->d_name, ".") != 0 &&
                    strcmp(de->d_name, "..") != 0)
                        return true;
        return false;
}

/* 1 if processes live in the leaf (v2: or below it), 0 if not or gone. */
static int hier_populated(const struct hier *h, struct ps_err **err)
{
        _cleanup_free_ char *buf = NULL;
        uint64_t populated = 0;
        int r;

        if (h->v2) {
                r = ps_cgfile_read(h->dir, "cgroup.events", &buf, err);
                if (r <= 0)
                        return r;
                return ps_cgfile_kv_get(buf, "populated", &populated) == 0 && populated;
        }
        r = ps_cgfile_read(h->dir, "cgroup.procs", &buf, err);
        return r <= 0 ? r : !blank(buf);
}

static int check_removable(const struct ps_pod_cgroup *cg, struct ps_err **err)
{
        for (size_t k = 0; k < cg->nh; k++) {
                const struct hier *h = &cg->h[k];
                int r;

                if (!(h->created & (1ULL << (cg->depth - 1))))
                        continue; /* removed by an earlier call */
                r = hier_populated(h, err);
                if (r < 0)
                        return -1;
                if (r > 0)
                        return ps_err_set(err, PS_FAILED_PRECONDITION,
                                          "cgroup %s still has processes", h->dir);
                if (has_subdirs(h->dir))
                        return ps_err_set(err, PS_FAILED_PRECONDITION,
                                          "cgroup %s has child cgroups", h->dir);
        }
        return 0;
}

/* Removes what is left of the handle's directories in one hierarchy,
 * deepest first, with one rmdir each. 1 if the kernel still holds one
 * (EBUSY: a cgroup stays busy for a moment after its last process left);
 * the directories above it are then left for the next call. */
static int hier_remove(struct hier *h, const char *path, size_t depth, struct ps_err **err)
{
        char dir[PATH_MAX];

        for (size_t i = depth; i-- > 0;) {
                if (!(h->created & (1ULL << i)))
                        continue;
                comp_dir(h, path, i, dir, sizeof(dir));
                /* A parent we made may since hold others' cgroups (the pod's
                 * containers): theirs to use, so it stays. */
                if (i + 1 < depth && has_subdirs(dir)) {
                        ps_log_debug("cgroup %s: in use, left in place", dir);
                        h->created &= ~(1ULL << i);
                        continue;
                }
                if (rmdir(dir) < 0 && errno != ENOENT) {
                        if (errno == EBUSY) {
                                ps_log_debug("cgroup %s: busy, try again", dir);
                                return PS_POD_CGROUP_BUSY;
                        }
                        return ps_err_errno(err, errno, PS_UNKNOWN, "rmdir %s", dir);
                }
                h->created &= ~(1ULL << i);
        }
        return 0;
}

void ps_pod_cgroup_inherit(struct ps_pod_cgroup *cg, const struct ps_pod_cgroup *old)
{
        if (strcmp(cg->path, old->path) != 0)
                return;
        for (size_t k = 0; k < cg->nh; k++)
                for (size_t j = 0; j < old->nh; j++)
                        if (strcmp(cg->h[k].root, old->h[j].root) == 0)
                                cg->h[k].created |= old->h[j].created;
}

int ps_pod_cgroup_remove(struct ps_pod_cgroup *cg, struct ps_err **err)
{
        bool busy = false;
        int ret = 0;

        /* Refuse before touching anything, so a live pod keeps its cgroup in
         * every hierarchy. */
        if (check_removable(cg, err) < 0)
                return ps_err_prefix(err, "remove cgroup %s", cg->path);
        /* Go on after a failure: as much as possible is gone, and a retry
         * only handles what is left. */
        for (size_t k = 0; k < cg->nh; k++) {
                struct ps_err *e = NULL;
                int r = hier_remove(&cg->h[k], cg->path, cg->depth, &e);

                if (r < 0) {
                        ps_err_move(err, &e);
                        ret = -1;
                }
                busy = busy || r == PS_POD_CGROUP_BUSY;
        }
        if (ret < 0)
                return ps_err_prefix(err, "remove cgroup %s", cg->path);
        return busy ? PS_POD_CGROUP_BUSY : 0;
}
