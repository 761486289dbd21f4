#include "oci/runtime_cli.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "base/cleanup.h"

#define LOG_TAIL (64u << 10)

char *ps_runtime_last_error(const char *log_path)
{
        _cleanup_close_ int fd = open(log_path, O_RDONLY | O_CLOEXEC);
        _cleanup_free_ char *buf = NULL;
        char *msg = NULL;
        off_t size;
        ssize_t n;

        if (fd < 0)
                return NULL;
        size = lseek(fd, 0, SEEK_END);
        if (size < 0)
                return NULL;
        if (size > (off_t)LOG_TAIL && lseek(fd, size - (off_t)LOG_TAIL, SEEK_SET) < 0)
                return NULL;
        if (size <= (off_t)LOG_TAIL && lseek(fd, 0, SEEK_SET) < 0)
                return NULL;
        buf = malloc(LOG_TAIL + 1);
        if (!buf)
                return NULL;
        n = read(fd, buf, LOG_TAIL);
        if (n <= 0)
                return NULL;
        buf[n] = '\0';
        for (char *line = buf, *next; line && *line; line = next) {
                cJSON *j, *level, *m;

                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                j = cJSON_Parse(line);
                if (!j)
                        continue;
                level = cJSON_GetObjectItemCaseSensitive(j, "level");
                m = cJSON_GetObjectItemCaseSensitive(j, "msg");
                if (cJSON_IsString(level) && strcmp(level->valuestring, "error") == 0 &&
                    cJSON_IsString(m)) {
                        free(msg);
                        msg = strdup(m->valuestring);
                }
                cJSON_Delete(j);
        }
        return msg;
}

size_t ps_runtime_argv(const struct ps_options *o, char *root, char *log, char *const *args,
                       char *argv[PS_RUNTIME_MAX_ARGS])
{
        size_t n = 0;

        argv[n++] = o->binary_name;
        argv[n++] = "--root";
        argv[n++] = root;
        argv[n++] = "--log";
        argv[n++] = log;
        argv[n++] = "--log-format";
        argv[n++] = "json";
        if (o->systemd_cgroup)
                argv[n++] = "--systemd-cgroup";
        if (o->criu_path && o->criu_path[0]) {
                argv[n++] = "--criu";
                argv[n++] = o->criu_path;
        }
        for (size_t i = 0; args[i] && n < PS_RUNTIME_MAX_ARGS - 1; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        return n;
}
