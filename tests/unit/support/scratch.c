#include "scratch.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

void test_rm_rf(const char *dir)
{
        char *const argv[] = {"rm", "-rf", (char *)dir, NULL};
        pid_t pid = fork();

        if (pid == 0) {
                execvp("rm", argv);
                _exit(127);
        }
        if (pid > 0)
                waitpid(pid, NULL, 0);
}

int test_private_tmpfs(const char *name, char *dir, size_t size)
{
        if (geteuid() != 0) {
                fprintf(stderr, "%s needs root\n", name);
                return 77;
        }
        if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0) {
                perror("unshare");
                return 2;
        }
        if ((size_t)snprintf(dir, size, "/tmp/%s.XXXXXX", name) >= size || !mkdtemp(dir) ||
            mount("tmpfs", dir, "tmpfs", 0, NULL) < 0) {
                perror("scratch tmpfs");
                return 2;
        }
        return 0;
}

void test_private_tmpfs_end(const char *dir)
{
        umount2(dir, MNT_DETACH);
        rmdir(dir);
}
