/* libFuzzer target: the wire-level string checks that run on every request
 * before it is unpacked (ttrpc_strings_valid), plus the UTF-8 helpers and
 * the id validator every handler applies to ids.
 *
 * The first input byte picks the message descriptor (the ttrpc envelope or
 * one of the Task service requests); the rest is its wire bytes. Oracles:
 *   - a "bad" verdict names a string field of that message tree;
 *   - a "good" verdict on bytes protobuf-c can unpack means every string in
 *     the unpacked message (nested messages and repeated fields too) is
 *     valid UTF-8: the check and the decoder agree on where strings are;
 *   - ttrpc_utf8_sanitize always leaves valid UTF-8 of the same length;
 *   - an id ps_id_valid accepts has no '/', no "..", and is 1..76 bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "containerd/task/v2/task.pb-c.h"
#include "ttrpc/strings.h"
#include "ttrpc/ttrpc.pb-c.h"

#define MAX_DEPTH 64

static const ProtobufCMessageDescriptor *const descs[] = {
    &ttrpc__request__descriptor,
    &containerd__task__v2__create_task_request__descriptor,
    &containerd__task__v2__delete_request__descriptor,
    &containerd__task__v2__exec_process_request__descriptor,
    &containerd__task__v2__resize_pty_request__descriptor,
    &containerd__task__v2__state_request__descriptor,
    &containerd__task__v2__kill_request__descriptor,
    &containerd__task__v2__close_iorequest__descriptor,
    &containerd__task__v2__pids_request__descriptor,
    &containerd__task__v2__checkpoint_task_request__descriptor,
    &containerd__task__v2__update_task_request__descriptor,
    &containerd__task__v2__start_request__descriptor,
    &containerd__task__v2__wait_request__descriptor,
    &containerd__task__v2__stats_request__descriptor,
    &containerd__task__v2__connect_request__descriptor,
    &containerd__task__v2__shutdown_request__descriptor,
    &containerd__task__v2__pause_request__descriptor,
    &containerd__task__v2__resume_request__descriptor,
};
#define N_DESCS (sizeof(descs) / sizeof(descs[0]))

/* Is `name` the name of a string field somewhere under d? */
static bool names_string_field(const ProtobufCMessageDescriptor *d, const char *name, int depth)
{
        for (unsigned i = 0; i < d->n_fields && depth < MAX_DEPTH; i++) {
                const ProtobufCFieldDescriptor *f = &d->fields[i];

                if (f->type == PROTOBUF_C_TYPE_STRING && strcmp(f->name, name) == 0)
                        return true;
                if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
                    names_string_field(f->descriptor, name, depth + 1))
                        return true;
        }
        return false;
}

static bool field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
        const char *base = (const char *)m;

        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
                return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
        return true;
}

static void check_value(const ProtobufCFieldDescriptor *f, const void *slot, int depth);

/* Every string in an unpacked message must be valid UTF-8. */
static void check_message(const ProtobufCMessage *m, int depth)
{
        const char *base = (const char *)m;

        if (!m || depth > MAX_DEPTH)
                return;
        for (unsigned i = 0; i < m->descriptor->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &m->descriptor->fields[i];

                if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
                        continue;
                if (!field_present(m, f))
                        continue;
                if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                        size_t n = *(const size_t *)(base + f->quantifier_offset);
                        void *const *arr = *(void *const *const *)(base + f->offset);

                        for (size_t k = 0; k < n; k++)
                                check_value(f, &arr[k], depth);
                } else {
                        check_value(f, base + f->offset, depth);
                }
        }
}

static void check_value(const ProtobufCFieldDescriptor *f, const void *slot, int depth)
{
        const void *v = *(const void *const *)slot;

        if (!v)
                return;
        if (f->type == PROTOBUF_C_TYPE_STRING) {
                const char *s = v;

                if (!ttrpc_utf8_valid((const uint8_t *)s, strlen(s)))
                        abort();
        } else {
                check_message(v, depth + 1);
        }
}

static void check_sanitize(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1);
        size_t len;

        if (!s)
                abort();
        memcpy(s, data, size);
        s[size] = '\0';
        len = strlen(s);
        ttrpc_utf8_sanitize(s);
        if (strlen(s) != len || !ttrpc_utf8_valid((const uint8_t *)s, len))
                abort();
        if (ps_id_valid(s) && (len == 0 || len > 76 || strchr(s, '/') || strstr(s, "..")))
                abort();
        free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const ProtobufCMessageDescriptor *d;
        const char *bad = NULL;
        ProtobufCMessage *m;
        bool ok;

        if (size < 1)
                return 0;
        d = descs[data[0] % N_DESCS];
        data++;
        size--;
        ok = ttrpc_strings_valid(d, data, size, &bad);
        if (!ok && (!bad || !names_string_field(d, bad, 0)))
                abort();
        if (ok) {
                m = protobuf_c_message_unpack(d, NULL, size, data);
                check_message(m, 0);
                if (m)
                        protobuf_c_message_free_unpacked(m, NULL);
        }
        check_sanitize(data, size);
        return 0;
}
