#include <string.h>

#include "check.h"
#include "containerd/task/v2/task.pb-c.h"
#include "ttrpc/strings.h"

static void test_utf8(void)
{
        CHECK(ttrpc_utf8_valid((const uint8_t *)"abc", 3));
        CHECK(ttrpc_utf8_valid((const uint8_t *)"\xc3\xa9t\xc3\xa9", 6)); /* été */
        CHECK(ttrpc_utf8_valid((const uint8_t *)"\xf0\x9f\x90\xb3", 4));  /* U+1F433 */
        CHECK(!ttrpc_utf8_valid((const uint8_t *)"\xff\xfe", 2));
        CHECK(!ttrpc_utf8_valid((const uint8_t *)"\xc0\xaf", 2));         /* overlong '/' */
        CHECK(!ttrpc_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));     /* surrogate */
        CHECK(!ttrpc_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
        CHECK(!ttrpc_utf8_valid((const uint8_t *)"\xe2\x82", 2));         /* truncated */
        char s[] = "id \xff\xfe ok \xc3\xa9";
        ttrpc_utf8_sanitize(s);
        CHECK_STREQ(s, "id ?? ok \xc3\xa9");
}

static size_t pack_state(const char *id, size_t id_len, const char *exec_id, uint8_t *out)
{
        /* Hand-encoded StateRequest{1: id, 2: exec_id}: protobuf-c itself
         * could not produce an embedded NUL. */
        size_t n = 0;

        out[n++] = 0x0a;
        out[n++] = (uint8_t)id_len;
        memcpy(out + n, id, id_len);
        n += id_len;
        if (exec_id) {
                out[n++] = 0x12;
                out[n++] = (uint8_t)strlen(exec_id);
                memcpy(out + n, exec_id, strlen(exec_id));
                n += strlen(exec_id);
        }
        return n;
}

static void test_fields(void)
{
        const ProtobufCMessageDescriptor *d = &containerd__task__v2__state_request__descriptor;
        uint8_t buf[128];
        const char *bad = NULL;
        size_t n;

        n = pack_state("c1", 2, "e1", buf);
        CHECK(ttrpc_strings_valid(d, buf, n, &bad));
        n = pack_state("c1\0junk", 7, NULL, buf);
        CHECK(!ttrpc_strings_valid(d, buf, n, &bad));
        CHECK_STREQ(bad, "id");
        n = pack_state("c1", 2, "\xff", buf);
        CHECK(!ttrpc_strings_valid(d, buf, n, &bad));
        CHECK_STREQ(bad, "exec_id");
        /* Strings inside nested messages (Create's rootfs mounts) too. */
        const ProtobufCMessageDescriptor *cd =
            &containerd__task__v2__create_task_request__descriptor;
        uint8_t create[] = {0x0a, 0x01, 'c', 0x1a, 0x05, 0x0a, 0x03, 'o', 0x00, 'x'};
        CHECK(!ttrpc_strings_valid(cd, create, sizeof(create), &bad));
        CHECK_STREQ(bad, "type");
        /* Truncated input is left for the unpacker to reject. */
        uint8_t trunc[] = {0x0a, 0x09, 'c'};
        CHECK(ttrpc_strings_valid(d, trunc, sizeof(trunc), &bad));
}

int main(void)
{
        RUN(test_utf8);
        RUN(test_fields);
        return check_summary();
}
