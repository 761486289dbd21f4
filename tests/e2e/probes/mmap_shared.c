/* A writable shared mapping of each file named: what POSIX shared memory
 * (shm_open on /dev/shm), SQLite's WAL index and the JVM's perf data do.
 * Prints "<path>: mmap-ok" when a write through the mapping reads back
 * through the file, else the failing step and errno. Built static by the
 * e2e tests and bound into containers, whose images have no compiler. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SIZE 4096

static const char *probe(const char *path)
{
        static const char word[] = "shared";
        char back[sizeof(word)] = {0};
        const char *verdict = "mmap-ok";
        char *p;
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        if (fd < 0)
                return "open failed";
        if (ftruncate(fd, SIZE) < 0) {
                close(fd);
                return "ftruncate failed";
        }
        p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
                close(fd);
                return "mmap failed";
        }
        memcpy(p, word, sizeof(word));
        if (msync(p, SIZE, MS_SYNC) < 0)
                verdict = "msync failed";
        munmap(p, SIZE);
        if (pread(fd, back, sizeof(back), 0) != (ssize_t)sizeof(back) ||
            memcmp(back, word, sizeof(word)) != 0)
                verdict = "write lost";
        close(fd);
        unlink(path);
        return verdict;
}

int main(int argc, char **argv)
{
        for (int i = 1; i < argc; i++) {
                const char *verdict;

                errno = 0;
                verdict = probe(argv[i]);
                if (errno && strcmp(verdict, "mmap-ok") != 0)
                        printf("%s: %s: %s\n", argv[i], verdict, strerror(errno));
                else
                        printf("%s: %s\n", argv[i], verdict);
        }
        return 0;
}
