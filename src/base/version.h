/* What this build is. Defined in revision.c, which the build generates
 * (cmake/revision.cmake) and rewrites only when the revision changes, so a
 * new commit relinks the shim without recompiling anything else. */
#ifndef PS_BASE_VERSION_H
#define PS_BASE_VERSION_H

/* The project version (CMakeLists.txt `project(... VERSION)`). */
extern const char ps_build_version[];

/* The source revision the build recorded: the git commit the tree was
 * built from, with ".m" appended when tracked files had local changes (as
 * containerd records its own), the commit a `git archive` tarball carries,
 * or -DPODSHIM_REVISION; empty when none of these is known. */
extern const char ps_build_revision[];

#endif
