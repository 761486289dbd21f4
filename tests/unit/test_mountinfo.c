/* The mountinfo parser: proc(5) lines with escapes, optional fields, empty
 * and overlong fields, truncated and malformed lines; then the live file,
 * in a private mount namespace, with a mount point that needs escaping. */
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/mountinfo.h"
#include "check.h"

static struct ps_mountinfo *parse(const char *text)
{
        struct ps_mountinfo *mi = NULL;
        struct ps_err *e = NULL;

        if (ps_mountinfo_parse(text, strlen(text), &mi, &e) < 0) {
                fprintf(stderr, "  parse: %s\n", ps_err_msg(e));
                ps_err_free(e);
                return NULL;
        }
        return mi;
}

static void test_proc5_example(void)
{
        _cleanup_(ps_mountinfo_freep) struct ps_mountinfo *mi = parse(
            "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n");

        CHECK(mi != NULL);
        if (!mi)
                return;
        CHECK_INTEQ(mi->n, 1);
        CHECK_INTEQ(mi->malformed, 0);
        CHECK_INTEQ(mi->e[0].id, 36);
        CHECK_INTEQ(mi->e[0].parent_id, 35);
        CHECK_INTEQ(mi->e[0].major, 98);
        CHECK_INTEQ(mi->e[0].minor, 0);
        CHECK_STREQ(mi->e[0].root, "/mnt1");
        CHECK_STREQ(mi->e[0].mount_point, "/mnt2");
        CHECK_STREQ(mi->e[0].options, "rw,noatime");
        CHECK_STREQ(mi->e[0].optional, "master:1");
        CHECK_STREQ(mi->e[0].fstype, "ext3");
        CHECK_STREQ(mi->e[0].source, "/dev/root");
        CHECK_STREQ(mi->e[0].super_options, "rw,errors=continue");
}

/* The kernel escapes ' ', '\t', '\n' and '\\' in paths and the source. */
static void test_escapes(void)
{
        _cleanup_(ps_mountinfo_freep) struct ps_mountinfo *mi =
            parse("40 27 0:40 /a\\040b /run/x\\040y\\011z\\012w\\134v rw - fuse.my\\040fs "
                  "src\\040dev rw,lowerdir=/l\\054m,x\n");

        CHECK(mi && mi->n == 1);
        if (!mi || mi->n != 1)
                return;
        CHECK_STREQ(mi->e[0].root, "/a b");
        CHECK_STREQ(mi->e[0].mount_point, "/run/x y\tz\nw\\v");
        CHECK_STREQ(mi->e[0].fstype, "fuse.my fs");
        CHECK_STREQ(mi->e[0].source, "src dev");
        /* option values stay escaped: ',' must still separate options */
        CHECK_STREQ(mi->e[0].super_options, "rw,lowerdir=/l\\054m,x");
}

static void test_unescape(void)
{
        static const struct {
                const char *in, *out;
        } cases[] = {
            {"plain", "plain"},
            {"\\040", " "},
            {"a\\134\\134b", "a\\\\b"},
            {"\\377", "\377"},
            {"\\400", "\\400"},     /* not a byte: kept */
            {"\\000x", "\\000x"},   /* would cut the string: kept */
            {"\\08", "\\08"},       /* not octal */
            {"end\\04", "end\\04"}, /* cut short */
            {"end\\", "end\\"},
            {"\\134040", "\\040"}, /* decoded once, not twice */
            {"", ""},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                _cleanup_free_ char *s = strdup(cases[i].in);

                CHECK(s && ps_mountinfo_unescape(s) == s);
                CHECK_STREQ(s, cases[i].out);
        }
}

static void test_optional_fields(void)
{
        _cleanup_(ps_mountinfo_freep) struct ps_mountinfo *mi =
            parse("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
                  "2 1 0:5 / /a rw shared:5 master:3 propagate_from:2 unbindable - tmpfs t rw\n"
                  "3 1 0:6 / /b rw shared:7 - tmpfs t rw\n"
                  "4 1 0:7 / /c rw newtag:1 x - tmpfs t rw\n");

        CHECK(mi && mi->n == 4 && mi->malformed == 0);
        if (!mi || mi->n != 4)
                return;
        CHECK_STREQ(mi->e[0].optional, "");
        CHECK_STREQ(mi->e[0].fstype, "ext4");
        CHECK_STREQ(mi->e[1].optional, "shared:5 master:3 propagate_from:2 unbindable");
        CHECK_STREQ(mi->e[1].fstype, "tmpfs");
        CHECK_STREQ(mi->e[1].mount_point, "/a");
        CHECK_STREQ(mi->e[2].optional, "shared:7");
        CHECK_STREQ(mi->e[3].optional, "newtag:1 x"); /* unknown tags are kept, not parsed */
        CHECK_STREQ(mi->e[3].super_options, "rw");
}

/* "- tmpfs  rw": a mount made with an empty source. A parser that merges
 * runs of spaces takes "rw" for the source here. */
static void test_empty_source(void)
{
        _cleanup_(ps_mountinfo_freep) struct ps_mountinfo *mi =
            parse("45 27 0:40 / /tmp/e rw,relatime - tmpfs  rw\n");

        CHECK(mi && mi->n == 1);
        if (!mi || mi->n != 1)
                return;
        CHECK_STREQ(mi->e[0].source, "");
        CHECK_STREQ(mi->e[0].super_options, "rw");
}

static void test_line_ends(void)
{
        _cleanup_(ps_mountinfo_freep) struct ps_mountinfo *a = parse("1 0 8:1 / / rw - ext4 s rw\n"
                                                                     "2 1 0:5 / /x rw - tmpfs t "
                                                                     "rw,size=4k");
        _cleanup_(ps_mountinfo_freep) struct ps_mountinfo *b = parse("");
        _cleanup_(ps_mountinfo_freep) struct ps_mountinfo *c = parse("\n\n");
        /* a field a later kernel might append after (11) */
        _cleanup_(ps_mountinfo_freep) struct ps_mountinfo *d =
            parse("1 0 8:1 / / rw - ext4 s rw,x future\n");

        CHECK(a && a->n == 2 && a->malformed == 0);
        if (a && a->n == 2)
                CHECK_STREQ(a->e[1].super_options, "rw,size=4k");
        CHECK(b && b->n == 0 && b->malformed == 0);
        CHECK(c && c->n == 0 && c->malformed == 2);
        CHECK(d && d->n == 1);
        if (d && d->n == 1)
                CHECK_STREQ(d->e[0].super_options, "rw,x");
}

/* Every prefix of a good line that stops before (10) is malformed and is
 * skipped without taking its neighbours down. */
static void test_truncated(void)
{
        static const char line[] = "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw";
        const size_t full = sizeof(line) - 1, need = strlen("36 35 98:0 /mnt1 /mnt2 rw,noatime "
                                                            "master:1 - ext3 /dev/root ");

        for (size_t cut = 0; cut <= full; cut++) {
                _cleanup_free_ char *text = NULL;
                _cleanup_(ps_mountinfo_freep) struct ps_mountinfo *mi = NULL;

                CHECK(asprintf(&text, "1 0 8:1 / / rw - ext4 s rw\n%.*s\n2 1 0:5 / /x rw - t s rw",
                               (int)cut, line) > 0);
                mi = parse(text);
                CHECK(mi != NULL);
                if (!mi)
                        continue;
                if (cut >= need) {
                        CHECK_INTEQ(mi->n, 3);
                        CHECK_INTEQ(mi->malformed, 0);
                } else {
                        CHECK_INTEQ(mi->n, 2);
                        CHECK_INTEQ(mi->malformed, 1);
                }
                CHECK(mi->n >= 2 && strcmp(mi->e[mi->n - 1].mount_point, "/x") == 0);
        }
}

static void test_malformed(void)
{
        static const char *const bad[] = {
            "x 35 98:0 / /m rw - ext3 s rw",          /* id not a number */
            "-1 35 98:0 / /m rw - ext3 s rw",         /* negative */
            "4294967296 35 98:0 / /m rw - ext3 s rw", /* over 32 bits */
            "99999999999999999999999 1 98:0 / /m rw - ext3 s rw",
            "36 35 980 / /m rw - ext3 s rw",         /* no ':' */
            "36 35 98: / /m rw - ext3 s rw",         /* no minor */
            "36 35 98:0  /m rw - ext3 s rw",         /* empty root */
            "36 35 98:0 /  rw - ext3 s rw",          /* empty mount point */
            "36 35 98:0 / /m rw shared:1 ext3 s rw", /* no separator */
            "36 35 98:0 / /m rw -  s rw",            /* empty type */
            "36  35 98:0 / /m rw - ext3 s rw",       /* doubled space shifts the fields */
        };
        _cleanup_(ps_mountinfo_freep) struct ps_mountinfo *ok =
            parse("4294967295 0 4095:1048575 / /m rw - ext3 s rw");

        CHECK(ok && ok->n == 1);
        if (ok && ok->n == 1) {
                CHECK(ok->e[0].id == 4294967295u);
                CHECK_INTEQ(ok->e[0].major, 4095);
                CHECK_INTEQ(ok->e[0].minor, 1048575);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                _cleanup_(ps_mountinfo_freep) struct ps_mountinfo *mi = parse(bad[i]);

                if (!mi || mi->n != 0 || mi->malformed != 1)
                        fprintf(stderr, "  accepted: %s\n", bad[i]);
                CHECK(mi && mi->n == 0 && mi->malformed == 1);
        }
}

static void test_nul_byte(void)
{
        static const char text[] = "1 0 8:1 / / rw - ext4 s rw\n"
                                   "2 1 0:5 / /x\0y rw - tmpfs t rw\n"
                                   "3 1 0:5 / /z rw - tmpfs t rw\n";
        _cleanup_(ps_mountinfo_freep) struct ps_mountinfo *mi = NULL;

        CHECK_INTEQ(ps_mountinfo_parse(text, sizeof(text) - 1, &mi, NULL), 0);
        CHECK(mi && mi->n == 2 && mi->malformed == 1);
        if (mi && mi->n == 2)
                CHECK_STREQ(mi->e[1].mount_point, "/z");
}

/* Fields far longer than PATH_MAX parse whole: nothing is a fixed buffer. */
static void test_overlong_fields(void)
{
        enum { LONG = 100000 };
        _cleanup_free_ char *mp = malloc(LONG + 2), *opts = malloc(LONG + 1), *text = NULL;
        _cleanup_(ps_mountinfo_freep) struct ps_mountinfo *mi = NULL;

        CHECK(mp && opts);
        if (!mp || !opts)
                return;
        mp[0] = '/';
        memset(mp + 1, 'm', LONG);
        mp[LONG + 1] = '\0';
        memset(opts, 'o', LONG);
        opts[LONG] = '\0';
        CHECK(asprintf(&text, "7 1 0:9 / %s rw - tmpfs t rw,%s\n8 1 0:9 / /short rw - tmpfs t rw",
                       mp, opts) > 0);
        mi = parse(text);
        CHECK(mi && mi->n == 2);
        if (!mi || mi->n != 2)
                return;
        CHECK_INTEQ(strlen(mi->e[0].mount_point), LONG + 1);
        CHECK_INTEQ(strlen(mi->e[0].super_options), LONG + 3);
        CHECK_STREQ(mi->e[1].mount_point, "/short");
}

static void test_size_limit(void)
{
        _cleanup_free_ char *big = calloc(1, PS_MOUNTINFO_MAX + 1);
        struct ps_mountinfo *mi = NULL;
        struct ps_err *e = NULL;

        CHECK(big != NULL);
        if (!big)
                return;
        CHECK_INTEQ(ps_mountinfo_parse(big, PS_MOUNTINFO_MAX + 1, &mi, &e), -1);
        CHECK(e && e->code == PS_RESOURCE_EXHAUSTED);
        CHECK(mi == NULL);
        ps_err_free(e);
}

/* The live table, in a private mount namespace: "/" is there, and a mount
 * whose path needs every escape comes back as the path mount(2) was given,
 * with the device number stat(2) reports. */
static void test_read_live(void)
{
        char dir[] = "/tmp/test_mountinfo.XXXXXX";
        _cleanup_free_ char *mp = NULL;
        _cleanup_(ps_mountinfo_freep) struct ps_mountinfo *mi = NULL;
        struct ps_err *e = NULL;
        const struct ps_mountinfo_entry *found = NULL;
        bool root = false;
        struct stat st;

        if (geteuid() != 0) {
                fprintf(stderr, "  not root: live read skipped\n");
                return;
        }
        CHECK(unshare(CLONE_NEWNS) == 0 && mount("", "/", "", MS_REC | MS_PRIVATE, NULL) == 0);
        CHECK(mkdtemp(dir) != NULL);
        CHECK(asprintf(&mp, "%s/a b\tc\nd\\e", dir) > 0);
        CHECK(mkdir(mp, 0700) == 0);
        CHECK(mount("my src", mp, "tmpfs", 0, "size=4k") == 0);
        CHECK(mount("", mp, "", MS_SHARED, NULL) == 0);
        CHECK(stat(mp, &st) == 0);
        CHECK_INTEQ(ps_mountinfo_read(&mi, &e), 0);
        if (e)
                fprintf(stderr, "  %s\n", ps_err_msg(e));
        for (size_t i = 0; mi && i < mi->n; i++) {
                root |= strcmp(mi->e[i].mount_point, "/") == 0;
                if (strcmp(mi->e[i].mount_point, mp) == 0)
                        found = &mi->e[i];
        }
        CHECK(mi && mi->malformed == 0);
        CHECK(root);
        CHECK(found != NULL);
        if (found) {
                CHECK_STREQ(found->fstype, "tmpfs");
                CHECK_STREQ(found->source, "my src");
                CHECK_STREQ(found->root, "/");
                CHECK(strncmp(found->optional, "shared:", 7) == 0);
                CHECK(found->major == major(st.st_dev) && found->minor == minor(st.st_dev));
                CHECK(strstr(found->super_options, "size=4k") != NULL);
        }
        umount2(mp, MNT_DETACH);
        rmdir(mp);
        rmdir(dir);
        ps_err_free(e);
}

int main(void)
{
        RUN(test_proc5_example);
        RUN(test_escapes);
        RUN(test_unescape);
        RUN(test_optional_fields);
        RUN(test_empty_source);
        RUN(test_line_ends);
        RUN(test_truncated);
        RUN(test_malformed);
        RUN(test_nul_byte);
        RUN(test_overlong_fields);
        RUN(test_size_limit);
        RUN(test_read_live);
        return check_summary();
}
