#include "scratch.h"

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
