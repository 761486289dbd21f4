/* Scope-bound cJSON trees: `_cleanup_json_ cJSON *j = NULL;` deletes the
 * whole tree when `j` goes out of scope (cJSON_Delete accepts NULL). The
 * variable owns the tree; cJSON_Detach* or setting it to NULL hands it on. */
#ifndef PS_BASE_JSON_H
#define PS_BASE_JSON_H

#include <cjson/cJSON.h>

#include "base/cleanup.h"

static inline void ps_json_freep(cJSON **j)
{
        cJSON_Delete(*j);
}

#define _cleanup_json_ _cleanup_(ps_json_freep)

#endif
