#include "cgroup/record.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/backoff.h"
#include "base/cleanup.h"
#include "base/fs.h"
#include "cgroup/pod.h"

/* a path below the hierarchy roots: PATH_MAX with room */
#define RECORD_MAX        4096
#define BUSY_SLEEP_MAX_MS 64

int ps_cgroup_record_write(const char *record, const char *cgroup_path, struct ps_err **err)
{
        return ps_write_file_atomic(record, cgroup_path, strlen(cgroup_path), 0600, err);
}

void ps_cgroup_record_drop(const char *record)
{
        unlink(record);
}

static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ps_cgroup_record_clear(const char *record, unsigned wait_ms, struct ps_err **err)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_(ps_pod_cgroup_freep) struct ps_pod_cgroup *cg = NULL;
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_backoff b = {.min_ms = 1, .max_ms = BUSY_SLEEP_MAX_MS};
        long long deadline = now_ms() + wait_ms;
        int r;

        if (ps_read_file(record, RECORD_MAX, &path, NULL, &e) < 0)
                return e->errnum == ENOENT ? 0 : ps_err_move(err, &e);
        cg = ps_pod_cgroup_open(path, false, &e);
        if (!cg && e->code != PS_NOT_FOUND)
                return ps_err_move(err, &e);
        while (cg && (r = ps_pod_cgroup_remove(cg, err)) != 0) {
                if (r < 0)
                        return -1;
                if (now_ms() >= deadline)
                        return ps_err_set(err, PS_DEADLINE_EXCEEDED, "cgroup %s: busy", path);
                ps_sleep_ms(ps_backoff_next(&b));
        }
        ps_cgroup_record_drop(record);
        return 0;
}
