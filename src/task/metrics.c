#include "task/metrics.h"

#include <stdlib.h>

void ps_metrics_clear(struct ps_metrics *m)
{
        if (!m)
                return;
        ps_cgroup_metrics_clear(&m->cgroup);
        free(m->links);
        *m = (struct ps_metrics){0};
}
