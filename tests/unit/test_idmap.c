/* User-namespace id maps (oci/idmap.h): the kernel's rules, the map file
 * text both ways, lookups. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "check.h"
#include "oci/idmap.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static enum ps_code check_code(const struct ps_idmap *m, size_t n)
{
        struct ps_err *e = NULL;
        enum ps_code c = PS_OK;

        if (ps_idmap_check(m, n, "linux.uidMappings", &e) < 0) {
                c = e ? e->code : PS_UNKNOWN;
                if (e && !strstr(ps_err_msg(e), "linux.uidMappings"))
                        c = PS_INTERNAL; /* the message names the field */
        }
        ps_err_free(e);
        return c;
}

static void test_check(void)
{
        /* what CRI sends for a pod, and what a nested setup may use */
        struct ps_idmap pod[] = {{0, 100000, 65536}};
        struct ps_idmap split[] = {{0, 100000, 1}, {1, 100001, 999}, {1000, 300000, 64536}};
        struct ps_idmap whole[] = {{0, 0, UINT32_MAX}};   /* the init namespace's own map */
        struct ps_idmap top[] = {{UINT32_MAX - 1, 5, 1}}; /* the last valid id */

        CHECK_INTEQ(check_code(pod, N(pod)), PS_OK);
        CHECK_INTEQ(check_code(split, N(split)), PS_OK);
        CHECK_INTEQ(check_code(whole, N(whole)), PS_OK);
        CHECK_INTEQ(check_code(top, N(top)), PS_OK);
        CHECK_INTEQ(check_code(NULL, 0), PS_OK);

        /* the kernel's refusals (map_write) */
        struct ps_idmap zero[] = {{0, 100000, 0}};
        struct ps_idmap bad_id[] = {{UINT32_MAX, 100000, 1}};
        struct ps_idmap bad_host[] = {{0, UINT32_MAX, 1}};
        struct ps_idmap wrap_in[] = {{1, 100000, UINT32_MAX}};
        struct ps_idmap wrap_out[] = {{0, 10, UINT32_MAX - 5}};
        struct ps_idmap over_in[] = {{0, 100000, 10}, {9, 200000, 10}};
        struct ps_idmap over_out[] = {{0, 100000, 10}, {10, 100009, 10}};
        struct ps_idmap touch[] = {{0, 100000, 10}, {10, 100010, 10}}; /* adjacent: fine */

        CHECK_INTEQ(check_code(zero, N(zero)), PS_INVALID_ARGUMENT);
        CHECK_INTEQ(check_code(bad_id, N(bad_id)), PS_INVALID_ARGUMENT);
        CHECK_INTEQ(check_code(bad_host, N(bad_host)), PS_INVALID_ARGUMENT);
        CHECK_INTEQ(check_code(wrap_in, N(wrap_in)), PS_INVALID_ARGUMENT);
        CHECK_INTEQ(check_code(wrap_out, N(wrap_out)), PS_INVALID_ARGUMENT);
        CHECK_INTEQ(check_code(over_in, N(over_in)), PS_INVALID_ARGUMENT);
        CHECK_INTEQ(check_code(over_out, N(over_out)), PS_INVALID_ARGUMENT);
        CHECK_INTEQ(check_code(touch, N(touch)), PS_OK);

        /* 341 lines: one more than the kernel takes; 340 short ones fit a
         * page, 340 long ones do not */
        struct ps_idmap *many = calloc(PS_IDMAP_MAX + 1, sizeof(*many));
        CHECK(many != NULL);
        if (!many)
                return;
        for (uint32_t i = 0; i <= PS_IDMAP_MAX; i++)
                many[i] = (struct ps_idmap){i, i, 1};
        CHECK_INTEQ(check_code(many, PS_IDMAP_MAX + 1), PS_INVALID_ARGUMENT);
        CHECK_INTEQ(check_code(many, PS_IDMAP_MAX), PS_OK);
        for (uint32_t i = 0; i < PS_IDMAP_MAX; i++)
                many[i] = (struct ps_idmap){1000000000u + i, 2000000000u + i, 1};
        CHECK_INTEQ(check_code(many, PS_IDMAP_MAX), PS_INVALID_ARGUMENT); /* > 4095 bytes */
        free(many);
}

static void test_format(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_idmap pod[] = {{0, 100000, 65536}};
        struct ps_idmap two[] = {{0, 1000, 1}, {1, 100000, 65535}};
        struct ps_idmap bad[] = {{0, 1, 0}};
        char *text = (char *)"unchanged";
        size_t len = 7;

        CHECK(ps_idmap_format(pod, N(pod), "m", &text, &len, &e) == 0);
        CHECK_STREQ(text, "0 100000 65536\n");
        CHECK_INTEQ(len, strlen("0 100000 65536\n"));
        free(text);
        CHECK(ps_idmap_format(two, N(two), "m", &text, &len, &e) == 0);
        CHECK_STREQ(text, "0 1000 1\n1 100000 65535\n");
        CHECK_INTEQ(len, strlen(text));
        free(text);
        CHECK(ps_idmap_format(NULL, 0, "m", &text, &len, &e) == 0);
        CHECK_STREQ(text, "");
        CHECK_INTEQ(len, 0);
        free(text);
        /* refused maps are never formatted; the out-params stay */
        text = (char *)"unchanged";
        len = 7;
        CHECK(ps_idmap_format(bad, N(bad), "m", &text, &len, &e) < 0);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        CHECK_STREQ(text, "unchanged");
        CHECK_INTEQ(len, 7);
}

static enum ps_code parse_code(const char *text, struct ps_idmap **ret, size_t *ret_n)
{
        struct ps_err *e = NULL;
        struct ps_idmap *m = NULL;
        size_t n = 0;
        enum ps_code c = PS_OK;

        if (ps_idmap_parse(text, strlen(text), &m, &n, &e) < 0)
                c = e ? e->code : PS_UNKNOWN;
        ps_err_free(e);
        if (ret) {
                *ret = m;
                *ret_n = n;
        } else {
                free(m);
        }
        return c;
}

static void test_parse(void)
{
        _cleanup_free_ struct ps_idmap *m = NULL;
        size_t n = 99;

        /* the kernel's own layout ("%10u %10u %10u\n") */
        CHECK_INTEQ(parse_code("         0     100000      65536\n"
                               "     65536          1          1\n",
                               &m, &n),
                    PS_OK);
        CHECK_INTEQ(n, 2);
        if (m && n == 2) {
                CHECK(m[0].container_id == 0 && m[0].host_id == 100000 && m[0].size == 65536);
                CHECK(m[1].container_id == 65536 && m[1].host_id == 1 && m[1].size == 1);
        }
        free(m);
        m = NULL;
        /* the init namespace's map, a missing last newline, tabs */
        CHECK_INTEQ(parse_code("0 0 4294967295", &m, &n), PS_OK);
        CHECK(n == 1 && m && m[0].size == UINT32_MAX);
        free(m);
        m = NULL;
        CHECK_INTEQ(parse_code("\t1\t2\t3\t\n", &m, &n), PS_OK);
        CHECK(n == 1 && m && m[0].container_id == 1 && m[0].host_id == 2 && m[0].size == 3);
        free(m);
        m = NULL;
        /* a namespace whose map is not written yet */
        CHECK_INTEQ(parse_code("", &m, &n), PS_OK);
        CHECK(n == 0 && m == NULL);

        static const char *const bad[] = {
            "0 100000\n",          /* two numbers */
            "0 100000 65536 7\n",  /* four */
            "0 100000 4294967296", /* past 32 bits */
            "0 -1 5\n",            /* signed */
            "0 1 2\n\n",           /* an empty line */
            "a b c\n",
            "0 1 2x\n",
            "0 1 99999999999999999999999\n",
        };
        for (size_t i = 0; i < N(bad); i++) {
                enum ps_code c = parse_code(bad[i], NULL, NULL);
                if (c != PS_INVALID_ARGUMENT)
                        fprintf(stderr, "accepted: %s\n", bad[i]);
                CHECK_INTEQ(c, PS_INVALID_ARGUMENT);
        }

        /* at most PS_IDMAP_MAX lines */
        char *big = malloc((PS_IDMAP_MAX + 1) * 16 + 1), *p = big;
        CHECK(big != NULL);
        if (!big)
                return;
        for (unsigned i = 0; i < PS_IDMAP_MAX; i++)
                p += sprintf(p, "%u %u 1\n", i, i);
        CHECK_INTEQ(parse_code(big, NULL, NULL), PS_OK);
        sprintf(p, "999 999 1\n");
        CHECK_INTEQ(parse_code(big, NULL, NULL), PS_INVALID_ARGUMENT);
        free(big);
}

/* What is written is what the kernel shows back, parsed. */
static void test_round_trip(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        _cleanup_free_ struct ps_idmap *back = NULL;
        _cleanup_free_ char *text = NULL;
        struct ps_idmap m[] = {{0, 100000, 1}, {1, 200000, 65535}, {70000, 0, 1}};
        size_t len, n = 0;

        CHECK(ps_idmap_format(m, N(m), "m", &text, &len, &e) == 0);
        CHECK(text && ps_idmap_parse(text, len, &back, &n, &e) == 0);
        CHECK(back && ps_idmap_equal(m, N(m), back, n));
}

static void test_equal_and_lookup(void)
{
        struct ps_idmap a[] = {{0, 100000, 65536}};
        struct ps_idmap split[] = {{0, 100000, 1}, {1, 100001, 65535}}; /* same ids, split */
        struct ps_idmap ab[] = {{0, 1000, 1}, {1, 100000, 10}};
        struct ps_idmap ba[] = {{1, 100000, 10}, {0, 1000, 1}};
        uint32_t host = 7;

        CHECK(ps_idmap_equal(a, 1, a, 1));
        CHECK(ps_idmap_equal(NULL, 0, NULL, 0));
        CHECK(!ps_idmap_equal(a, 1, split, 2)); /* runc's rule: split differs */
        CHECK(!ps_idmap_equal(ab, 2, ba, 2));   /* and so does another order */
        CHECK(!ps_idmap_equal(a, 1, NULL, 0));

        CHECK(ps_idmap_to_host(a, 1, 0, &host) && host == 100000);
        CHECK(ps_idmap_to_host(a, 1, 65535, &host) && host == 165535);
        host = 7;
        CHECK(!ps_idmap_to_host(a, 1, 65536, &host) && host == 7);
        CHECK(ps_idmap_to_host(ab, 2, 0, &host) && host == 1000);
        CHECK(ps_idmap_to_host(ab, 2, 10, &host) && host == 100009);
        CHECK(!ps_idmap_to_host(ab, 2, 11, &host));
        CHECK(!ps_idmap_to_host(NULL, 0, 0, &host));
        /* the top of the id space, without overflow */
        struct ps_idmap top[] = {{UINT32_MAX - 10, 0, 10}};
        CHECK(ps_idmap_to_host(top, 1, UINT32_MAX - 1, &host) && host == 9);
        CHECK(!ps_idmap_to_host(top, 1, UINT32_MAX, &host));
}

/* containerd's uidmap=/gidmap= mount option values */
static void test_parse_option(void)
{
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_idmap *m = NULL;
        size_t n = 0;

        CHECK(ps_idmap_parse_option("0:100000:65536", "uidmap", &m, &n, &e) == 0);
        CHECK(n == 1 && m && m[0].container_id == 0 && m[0].host_id == 100000 &&
              m[0].size == 65536);
        free(m);
        m = NULL;
        CHECK(ps_idmap_parse_option("0:1000:1,1:100000:65535", "uidmap", &m, &n, &e) == 0);
        CHECK(n == 2 && m && m[1].container_id == 1 && m[1].host_id == 100000);
        free(m);
        m = NULL;

        static const char *const bad[] = {
            "",       "0:100000",        "0:100000:65536:1", "0:100000:65536,", ",0:1:1", " 0:1:1",
            "0: 1:1", "0:1:1 ",          "-1:1:1",           "0:1:4294967296",  "0:1:0",  "a:b:c",
            "0;1;1",  "0:1:10,5:100:10", /* overlap */
        };
        for (size_t i = 0; i < N(bad); i++) {
                m = NULL;
                n = 99;
                int r = ps_idmap_parse_option(bad[i], "uidmap", &m, &n, &e);
                if (r == 0)
                        fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
                CHECK(r < 0 && e && e->code == PS_INVALID_ARGUMENT &&
                      strstr(ps_err_msg(e), "uidmap"));
                CHECK(m == NULL && n == 99); /* nothing set on failure */
                e = ps_err_free(e);
        }
}

int main(void)
{
        RUN(test_check);
        RUN(test_format);
        RUN(test_parse);
        RUN(test_round_trip);
        RUN(test_parse_option);
        RUN(test_equal_and_lookup);
        return check_summary();
}
