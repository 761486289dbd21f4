/* libFuzzer target: the parsers of files and blobs the shim reads from the
 * runtime and from its clients. The first input byte picks one; the rest is
 * the document:
 *   0  runc's JSON log (<bundle>/log.json), via ps_runtime_last_error
 *   1  Create options as containerd.runc.v1.Options (protobuf)
 *   2  Create options as containerd.linux.runc.CreateOptions (protobuf)
 *   3  Create options as runtimeoptions.v1.Options (protobuf); its
 *      config_path, if any, is replaced by our own file so the fuzzer never
 *      makes the shim read an arbitrary host path
 *   4  the TOML-subset runtime config, reached the two ways CRI does: a
 *      runtimeoptions.v1.Options whose config_body is the document (1.7+),
 *      and one whose config_path names it
 * Files are a memfd, opened by path (/proc/self/fd/N) as the shim would open
 * a regular file: nothing is written to disk. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/log.h"
#include "runtimeoptions/options.pb-c.h"
#include "oci/options.h"
#include "api/options.h"
#include "sandbox/linux/runtime.h"

static const char *const type_urls[] = {
    "containerd.runc.v1.Options",
    "containerd.linux.runc.CreateOptions",
    "type.googleapis.com/runtimeoptions.v1.Options",
};

struct fuzz_file {
        int fd;
        char path[64];
};

static struct fuzz_file *file_get(void)
{
        static struct fuzz_file f = {.fd = -1};

        if (f.fd < 0) {
                ps_log_setup(PS_LOG_ERROR, NULL, NULL);
                f.fd = memfd_create("podshim-fuzz", MFD_CLOEXEC);
                if (f.fd < 0)
                        abort();
                snprintf(f.path, sizeof(f.path), "/proc/self/fd/%d", f.fd);
        }
        return &f;
}

static void file_set(const struct fuzz_file *f, const uint8_t *data, size_t size)
{
        if (ftruncate(f->fd, 0) < 0 || (size && pwrite(f->fd, data, size, 0) != (ssize_t)size))
                abort();
}

static void fuzz_log(const uint8_t *data, size_t size)
{
        struct fuzz_file *f = file_get();
        char *msg;

        file_set(f, data, size);
        msg = ps_runtime_last_error(f->path);
        /* the message is a complete C string from inside the log */
        if (msg && strlen(msg) > size)
                abort();
        free(msg);
}

static void check_options(const struct ps_options *o)
{
        /* never NULL after a decode (options.h) */
        if (!o->binary_name || !o->root || !*o->binary_name || !*o->root)
                abort();
}

static void decode(const char *type_url, const uint8_t *data, size_t size)
{
        struct ps_options o = {0};
        struct ps_err *e = NULL;

        if (ps_options_decode(type_url, data, size, &o, &e) < 0) {
                if (!e || !ps_err_msg(e) || o.binary_name)
                        abort();
                ps_err_free(e);
                return;
        }
        if (e)
                abort();
        check_options(&o);
        ps_options_clear(&o);
}

/* A runtimeoptions.v1.Options naming our memfd, keeping the input's
 * type_url when it decodes. */
static void decode_runtimeoptions(const uint8_t *data, size_t size, bool as_config)
{
        struct fuzz_file *f = file_get();
        Runtimeoptions__V1__Options *in = NULL, m = RUNTIMEOPTIONS__V1__OPTIONS__INIT;
        uint8_t *buf;
        size_t len;

        if (as_config) {
                /* the same document inline (config_body, containerd 1.7+) */
                m.config_body.data = (uint8_t *)(uintptr_t)data;
                m.config_body.len = size;
                len = runtimeoptions__v1__options__get_packed_size(&m);
                buf = malloc(len ? len : 1);
                if (!buf)
                        abort();
                runtimeoptions__v1__options__pack(&m, buf);
                decode(type_urls[2], buf, len);
                free(buf);
                m.config_body.data = NULL;
                m.config_body.len = 0;
                file_set(f, data, size);
                m.config_path = f->path;
        } else {
                in = runtimeoptions__v1__options__unpack(NULL, size, data);
                if (!in) {
                        decode(type_urls[2], data, size); /* the undecodable path */
                        return;
                }
                m.type_url = in->type_url;
                m.config_path = in->config_path && *in->config_path ? f->path : NULL;
                file_set(f, NULL, 0);
        }
        len = runtimeoptions__v1__options__get_packed_size(&m);
        buf = malloc(len ? len : 1);
        if (!buf)
                abort();
        runtimeoptions__v1__options__pack(&m, buf);
        decode(type_urls[2], buf, len);
        free(buf);
        if (in)
                runtimeoptions__v1__options__free_unpacked(in, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint8_t which;

        if (size < 1)
                return 0;
        which = data[0] % 5;
        data++;
        size--;
        switch (which) {
        case 0:
                fuzz_log(data, size);
                break;
        case 1:
        case 2:
                decode(type_urls[which - 1], data, size);
                break;
        case 3:
                decode_runtimeoptions(data, size, false);
                break;
        case 4:
                decode_runtimeoptions(data, size, true);
                break;
        }
        return 0;
}
