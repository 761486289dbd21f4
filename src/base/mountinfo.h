/* /proc/self/mountinfo, read and parsed once for every module that needs the
 * mount table (rootfs teardown, cgroup hierarchies).
 *
 * A line, per proc(5):
 *
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)    (10)         (11)
 *
 * (1) mount id, (2) parent id, (3) major:minor, (4) root of the mount in
 * its file system, (5) mount point, (6) per-mount options, (7) zero or more
 * optional fields ("shared:N", "master:N", "propagate_from:N",
 * "unbindable", or tags added later), ended by (8) a lone "-", then (9) the
 * file system type, (10) the source, (11) the super block options. Fields
 * are separated by exactly one space; a field may be empty (a mount made
 * with an empty source shows "- tmpfs  rw"). The kernel escapes ' ', '\t',
 * '\n' and '\\' (and, in option values, ',' and '=') as a backslash and
 * three octal digits.
 *
 * Limits: the file is read whole, at most PS_MOUNTINFO_MAX bytes (a larger
 * one fails with RESOURCE_EXHAUSTED rather than being cut, which could lose
 * mounts); the table costs that text plus one entry per line. A line that
 * does not have the shape above (too few fields, no separator, a number
 * that is not one, an empty root, mount point or type, a NUL byte) is
 * skipped and counted in `malformed`; the kernel never writes one.
 */
#ifndef PS_BASE_MOUNTINFO_H
#define PS_BASE_MOUNTINFO_H

#include <stddef.h>

#include "base/error.h"

/* /proc/sys/fs/mount-max defaults to 100,000 mounts a namespace; at ~150
 * bytes a line that is 15 MB. */
#define PS_MOUNTINFO_MAX (16u << 20)

/* One mount. The strings point into the table's text and live as long as
 * the table. */
struct ps_mountinfo_entry {
        unsigned id, parent_id;    /* (1), (2) */
        unsigned major, minor;     /* (3): st_dev of files on this mount */
        const char *root;          /* (4) unescaped: "/", "/sub/dir", "net:[4026531993]" */
        const char *mount_point;   /* (5) unescaped */
        const char *options;       /* (6) "rw,nosuid,relatime" */
        const char *optional;      /* (7) as written, "shared:1 master:2"; "" for none */
        const char *fstype;        /* (9) unescaped: "ext4", "fuse.sshfs" */
        const char *source;        /* (10) unescaped; may be "" */
        const char *super_options; /* (11) still escaped, so that ',' separates
                                    * options; ps_mountinfo_unescape() a value */
};

/* The mount table in file order: a mount comes after the mounts it was
 * mounted onto (a later entry at the same mount point is on top). */
struct ps_mountinfo {
        size_t n;         /* entries */
        size_t malformed; /* lines skipped */
        char *text;       /* owned; the strings of e[] point into it */
        struct ps_mountinfo_entry e[];
};

/* Reads and parses /proc/self/mountinfo. On success the caller owns *ret
 * (ps_mountinfo_free). Fails with the read error, or RESOURCE_EXHAUSTED
 * for a file over PS_MOUNTINFO_MAX. */
int ps_mountinfo_read(struct ps_mountinfo **ret, struct ps_err **err);

/* Parses `len` bytes of mountinfo text (copied; need not be NUL-terminated;
 * a last line without '\n' counts). Same limits and ownership as
 * ps_mountinfo_read. */
int ps_mountinfo_parse(const char *text, size_t len, struct ps_mountinfo **ret,
                       struct ps_err **err);

/* Accepts NULL; returns NULL. */
struct ps_mountinfo *ps_mountinfo_free(struct ps_mountinfo *mi);

static inline void ps_mountinfo_freep(struct ps_mountinfo **mi)
{
        ps_mountinfo_free(*mi);
}

/* Decodes the kernel's "\ooo" escapes (first digit 0-3) in place; anything
 * else, and "\000" (which would cut the string), is kept as written.
 * Returns s. */
char *ps_mountinfo_unescape(char *s);

#endif
