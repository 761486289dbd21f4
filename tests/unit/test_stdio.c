/* stdio against the real kernel: pipes, FIFOs made with mkfifo, a pty from
 * posix_openpt handed over a unix socket the way runc sends it, and a
 * binary:// logger run from a script (tests only: product code never runs a
 * shell). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "core/reaper.h"
#include "sandbox/linux/stdio.h"
#include "sandbox/linux/stdio_logger.h"
#include "check.h"

#define BIG (4u << 20)

static char tmp[64];

/* ---- helpers ------------------------------------------------------------- */

struct sink {
        int fd;
        char *buf;
        size_t len, cap;
        bool eof;
        struct event *ev;
};

static void sink_cb(evutil_socket_t fd, short what, void *arg)
{
        struct sink *k = arg;

        for (;;) {
                if (k->len == k->cap) {
                        k->cap = k->cap ? 2 * k->cap : 65536;
                        k->buf = realloc(k->buf, k->cap);
                }
                ssize_t n = read(fd, k->buf + k->len, k->cap - k->len);
                if (n > 0) {
                        k->len += (size_t)n;
                        continue;
                }
                if (n == 0 || errno != EAGAIN) {
                        k->eof = true;
                        event_del(k->ev);
                }
                return;
        }
}

static void sink_init(struct sink *k, struct event_base *base, int fd)
{
        *k = (struct sink){.fd = fd};
        k->ev = event_new(base, fd, EV_READ | EV_PERSIST, sink_cb, k);
        event_add(k->ev, NULL);
}

static void sink_fini(struct sink *k)
{
        event_free(k->ev);
        free(k->buf);
        close(k->fd);
}

static long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CPU time this process used so far: a relay that spins shows here. */
static long cpu_ms(void)
{
        struct rusage ru;

        getrusage(RUSAGE_SELF, &ru);
        return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
               (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

/* Runs the loop until *flag or `ms` elapsed; returns *flag. */
static bool run_until(struct event_base *base, const bool *flag, long ms)
{
        long end = now_ms() + ms;
        struct timeval slice = {0, 10000};

        while (!*flag && now_ms() < end) {
                event_base_loopexit(base, &slice);
                event_base_dispatch(base);
        }
        return *flag;
}

static void run_for(struct event_base *base, long ms)
{
        bool never = false;

        run_until(base, &never, ms);
}

static char *path_in_tmp(const char *name)
{
        char *p;

        CHECK(asprintf(&p, "%s/%s", tmp, name) > 0);
        return p;
}

static char *make_fifo(const char *name)
{
        char *p = path_in_tmp(name);

        unlink(p);
        CHECK(mkfifo(p, 0600) == 0);
        return p;
}

struct flags {
        bool ready, done;
        int ready_calls, done_calls;
        enum ps_code ready_code;
};

static void on_ready(void *data, struct ps_err *e)
{
        struct flags *f = data;

        f->ready = true;
        f->ready_calls++;
        f->ready_code = e ? e->code : PS_OK;
        ps_err_free(e);
}

static void on_done(void *data)
{
        struct flags *f = data;

        f->done = true;
        f->done_calls++;
}

static int dup_nonblock(int fd)
{
        int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);

        fcntl(d, F_SETFL, O_NONBLOCK);
        return d;
}

static void pattern(char *buf, size_t off, size_t n)
{
        for (size_t i = 0; i < n; i++)
                buf[i] = (char)((off + i) * 7 + (off + i) / 4093);
}

/* ---- non-tty ------------------------------------------------------------- */

/* 4 MiB through a FIFO whose reader is slower than the writer; drain starts
 * while the writer is still busy and must deliver every byte before done. */
static void test_stdout_big(void)
{
        struct event_base *base = event_base_new();
        _cleanup_free_ char *out = make_fifo("big-out");
        struct ps_stdio_config cfg = {.stdout_path = out};
        struct flags f = {0};
        struct sink k;
        int fds[3];
        pid_t pid;

        sink_init(&k, base, open(out, O_RDONLY | O_NONBLOCK | O_CLOEXEC));
        struct ps_stdio *s = ps_stdio_new(base, NULL, &cfg, on_ready, &f, NULL);
        CHECK(s);
        if (!s)
                return;
        CHECK(!f.ready); /* never from inside new() */
        ps_stdio_runtime_fds(s, fds);
        CHECK(fds[0] == -1 && fds[1] >= 0 && fds[2] == -1);
        CHECK(ps_stdio_console_socket(s) == NULL);
        CHECK(run_until(base, &f.ready, 1000));
        CHECK_INTEQ(f.ready_code, PS_OK);

        pid = fork();
        if (pid == 0) { /* the container process */
                char *buf = malloc(BIG);
                pattern(buf, 0, BIG);
                _exit(ps_write_all(fds[1], buf, BIG) == 0 ? 0 : 1);
        }
        CHECK(ps_stdio_started(s, NULL) == 0);
        ps_stdio_drain(s, 60000, on_done, &f);
        CHECK(!f.done);
        CHECK(run_until(base, &f.done, 20000)); /* by EOF, not by the timeout */
        CHECK_INTEQ(f.done_calls, 1);
        /* What is left in the FIFO, then EOF: our read-write fd is closed. */
        CHECK(run_until(base, &k.eof, 5000));
        CHECK_INTEQ(k.len, BIG);
        if (k.len == BIG) {
                char *want = malloc(BIG);
                pattern(want, 0, BIG);
                CHECK(memcmp(want, k.buf, BIG) == 0);
                free(want);
        }
        int st;
        CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
        run_for(base, 50);
        CHECK_INTEQ(f.done_calls, 1);
        ps_stdio_free(s);
        sink_fini(&k);
        event_base_free(base);
}

static void write_and_close(int fd, const char *text)
{
        CHECK(ps_write_all(fd, text, strlen(text)) == 0);
        close(fd);
}

static void test_stdout_stderr(bool same)
{
        struct event_base *base = event_base_new();
        _cleanup_free_ char *out = make_fifo("o");
        _cleanup_free_ char *errp = make_fifo("e");
        struct ps_stdio_config cfg = {.stdout_path = out, .stderr_path = same ? out : errp};
        struct flags f = {0};
        struct sink ko, ke;
        int fds[3], w1, w2;

        sink_init(&ko, base, open(out, O_RDONLY | O_NONBLOCK | O_CLOEXEC));
        sink_init(&ke, base, open(errp, O_RDONLY | O_NONBLOCK | O_CLOEXEC));
        struct ps_stdio *s = ps_stdio_new(base, NULL, &cfg, on_ready, &f, NULL);
        CHECK(s);
        if (!s)
                return;
        ps_stdio_runtime_fds(s, fds);
        CHECK(fds[1] >= 0 && fds[2] >= 0 && fds[1] != fds[2]);
        w1 = dup(fds[1]); /* what runc passes on to the process */
        w2 = dup(fds[2]);
        CHECK(ps_stdio_started(s, NULL) == 0);
        write_and_close(w1, "to stdout\n");
        write_and_close(w2, "to stderr\n");
        ps_stdio_drain(s, 60000, on_done, &f);
        CHECK(run_until(base, &f.done, 3000)); /* by EOF, not by the timeout */
        CHECK(run_until(base, &ko.eof, 2000));
        if (same) {
                CHECK_INTEQ(ko.len, 20);
                CHECK(ko.len == 20 && memmem(ko.buf, 20, "to stdout\n", 10) &&
                      memmem(ko.buf, 20, "to stderr\n", 10));
                CHECK_INTEQ(ke.len, 0);
        } else {
                CHECK(run_until(base, &ke.eof, 2000));
                CHECK(ko.len == 10 && memcmp(ko.buf, "to stdout\n", 10) == 0);
                CHECK(ke.len == 10 && memcmp(ke.buf, "to stderr\n", 10) == 0);
        }
        ps_stdio_free(s);
        sink_fini(&ko);
        sink_fini(&ke);
        event_base_free(base);
}

static void test_stderr_separate(void)
{
        test_stdout_stderr(false);
}

static void test_stdout_is_stderr(void)
{
        test_stdout_stderr(true);
}

/* The keep-alive writer: the client closing its writer is not EOF for the
 * process until CloseIO. */
static void test_stdin(void)
{
        struct event_base *base = event_base_new();
        _cleanup_free_ char *in = make_fifo("in");
        struct ps_stdio_config cfg = {.stdin_path = in};
        struct flags f = {0};
        struct sink k;
        int fds[3], client;

        struct ps_stdio *s = ps_stdio_new(base, NULL, &cfg, on_ready, &f, NULL);
        CHECK(s);
        if (!s)
                return;
        ps_stdio_runtime_fds(s, fds);
        CHECK(fds[0] >= 0 && fds[1] == -1 && fds[2] == -1);
        sink_init(&k, base, dup_nonblock(fds[0])); /* the process reads this */
        client = open(in, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        CHECK(client >= 0);
        CHECK(write(client, "hello", 5) == 5);
        CHECK(ps_stdio_started(s, NULL) == 0);
        for (long end = now_ms() + 2000; k.len < 5 && now_ms() < end;)
                run_for(base, 10);
        CHECK(k.len == 5 && memcmp(k.buf, "hello", 5) == 0);
        close(client); /* detach */
        run_for(base, 200);
        CHECK(!k.eof);
        client = open(in, O_WRONLY | O_NONBLOCK | O_CLOEXEC); /* attach again */
        CHECK(write(client, " again", 6) == 6);
        close(client);
        ps_stdio_close_stdin(s);
        ps_stdio_close_stdin(s); /* idempotent */
        CHECK(run_until(base, &k.eof, 2000));
        CHECK(k.len == 11 && memcmp(k.buf, "hello again", 11) == 0);
        ps_stdio_drain(s, 1000, on_done, &f);
        CHECK(run_until(base, &f.done, 1000));
        ps_stdio_free(s);
        sink_fini(&k);
        event_base_free(base);
}

static void test_file_uri(void)
{
        struct event_base *base = event_base_new();
        _cleanup_free_ char *log = path_in_tmp("logs/a/b/c.log");
        _cleanup_free_ char *uri = NULL;
        _cleanup_free_ char *content = NULL;
        size_t len = 0;

        CHECK(asprintf(&uri, "file://%s", log) > 0);
        for (int round = 0; round < 2; round++) {
                struct ps_stdio_config cfg = {.stdout_path = uri, .stderr_path = uri};
                struct flags f = {0};
                int fds[3];
                struct ps_stdio *s = ps_stdio_new(base, NULL, &cfg, on_ready, &f, NULL);
                CHECK(s);
                if (!s)
                        return;
                ps_stdio_runtime_fds(s, fds);
                CHECK(fds[0] == -1 && fds[1] >= 0 && fds[2] >= 0);
                int w1 = dup(fds[1]), w2 = dup(fds[2]);
                CHECK(ps_stdio_started(s, NULL) == 0);
                write_and_close(w1, "out\n");
                run_for(base, 20); /* keep the order for the check below */
                write_and_close(w2, "err\n");
                ps_stdio_drain(s, 60000, on_done, &f);
                CHECK(run_until(base, &f.done, 3000));
                CHECK(f.ready);
                ps_stdio_free(s);
        }
        struct stat st;
        CHECK(stat(log, &st) == 0 && (st.st_mode & 0777) == 0644);
        CHECK(ps_read_file(log, 1024, &content, &len, NULL) == 0);
        CHECK_STREQ(content, "out\nerr\nout\nerr\n");
        event_base_free(base);
}

static void test_bad_uri(void)
{
        struct event_base *base = event_base_new();
        struct ps_stdio_config cfg = {.stdout_path = "foo:///x"};
        _cleanup_err_ struct ps_err *e = NULL;
        struct ps_stdio_uri u;

        CHECK(ps_stdio_new(base, NULL, &cfg, on_ready, NULL, &e) == NULL);
        CHECK(e && e->code == PS_INVALID_ARGUMENT);
        CHECK(e && strstr(ps_err_msg(e), "unknown STDIO scheme"));

        /* A missing FIFO is NOT_FOUND, not a hang. */
        ps_err_free(e);
        e = NULL;
        cfg.stdout_path = "/nonexistent/fifo";
        CHECK(ps_stdio_new(base, NULL, &cfg, on_ready, NULL, &e) == NULL);
        CHECK(e && e->code == PS_NOT_FOUND);

        CHECK(ps_stdio_uri_parse("binary:///usr/bin/log%20ger?b=2&a&b=3&c=x+y%21", &u, NULL) == 0);
        CHECK(u.scheme == PS_STDIO_BINARY);
        CHECK_STREQ(u.path, "/usr/bin/log ger");
        CHECK(u.args && u.args[0] && u.args[6] == NULL);
        if (u.args && u.args[0]) {
                CHECK_STREQ(u.args[0], "b");
                CHECK_STREQ(u.args[1], "2");
                CHECK_STREQ(u.args[2], "a");
                CHECK_STREQ(u.args[3], "");
                CHECK_STREQ(u.args[4], "c");
                CHECK_STREQ(u.args[5], "x y!");
        }
        ps_stdio_uri_clear(&u);
        CHECK(ps_stdio_uri_parse("/run/x/y-stdout", &u, NULL) == 0);
        CHECK(u.scheme == PS_STDIO_FIFO);
        CHECK_STREQ(u.path, "/run/x/y-stdout");
        ps_stdio_uri_clear(&u);
        CHECK(ps_stdio_uri_parse("FILE://host/var/log/x", &u, NULL) == 0);
        CHECK(u.scheme == PS_STDIO_FILE);
        CHECK_STREQ(u.path, "/var/log/x");
        ps_stdio_uri_clear(&u);
        CHECK(ps_stdio_uri_parse("file:///a%zz", &u, NULL) < 0);
        CHECK(ps_stdio_uri_parse("binary:relative", &u, NULL) < 0);
        event_base_free(base);
}

/* A writer that never closes: drain gives up after the timeout, cuts the
 * relays (the client sees EOF) and still calls done exactly once. */
static void test_drain_timeout(void)
{
        struct event_base *base = event_base_new();
        _cleanup_free_ char *out = make_fifo("slow");
        struct ps_stdio_config cfg = {.stdout_path = out};
        struct flags f = {0};
        struct sink k;
        int fds[3], w;

        sink_init(&k, base, open(out, O_RDONLY | O_NONBLOCK | O_CLOEXEC));
        struct ps_stdio *s = ps_stdio_new(base, NULL, &cfg, on_ready, &f, NULL);
        CHECK(s);
        if (!s)
                return;
        ps_stdio_runtime_fds(s, fds);
        w = dup(fds[1]); /* a leftover child still holding stdout */
        CHECK(ps_stdio_started(s, NULL) == 0);
        CHECK(write(w, "x", 1) == 1);
        long t0 = now_ms();
        ps_stdio_drain(s, 300, on_done, &f);
        CHECK(run_until(base, &f.done, 5000));
        long dt = now_ms() - t0;
        CHECK(dt >= 250 && dt < 3000);
        CHECK(run_until(base, &k.eof, 1000));
        CHECK(k.len == 1);
        run_for(base, 50);
        CHECK_INTEQ(f.done_calls, 1);
        /* The relay is gone: the writer now gets EPIPE (SIGPIPE is ignored). */
        CHECK(write(w, "y", 1) < 0 && errno == EPIPE);
        close(w);
        ps_stdio_free(s);
        sink_fini(&k);
        event_base_free(base);
}

/* A client that stops reading: the FIFO fills, the relay waits for it to
 * drain without spinning and without buffering, the process blocks on its
 * full pipe; once the client reads again everything arrives. */
static void test_backpressure(void)
{
        struct event_base *base = event_base_new();
        _cleanup_free_ char *out = make_fifo("bp");
        struct ps_stdio_config cfg = {.stdout_path = out};
        struct flags f = {0};
        static char chunk[4096];
        size_t written = 0;
        int fds[3], w, reader;

        reader = open(out, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        struct ps_stdio *s = ps_stdio_new(base, NULL, &cfg, on_ready, &f, NULL);
        CHECK(s);
        if (!s)
                return;
        ps_stdio_runtime_fds(s, fds);
        w = dup_nonblock(fds[1]);
        CHECK(ps_stdio_started(s, NULL) == 0);
        /* Fill: the process pipe, then the FIFO behind it, until stuck. */
        for (int idle = 0; idle < 20;) {
                ssize_t n = write(w, chunk, sizeof(chunk));
                if (n > 0) {
                        written += (size_t)n;
                        idle = 0;
                } else {
                        idle++;
                        run_for(base, 5);
                }
        }
        CHECK(written >= 2 * 65536 && written < 4 * 65536 + 65536);
        long cpu0 = cpu_ms();
        run_for(base, 300);
        CHECK(cpu_ms() - cpu0 < 100);
        struct sink k;
        sink_init(&k, base, reader);
        close(w);
        ps_stdio_drain(s, 60000, on_done, &f);
        CHECK(run_until(base, &f.done, 3000));
        CHECK(run_until(base, &k.eof, 2000));
        CHECK_INTEQ(k.len, written);
        ps_stdio_free(s);
        sink_fini(&k);
        event_base_free(base);
}

/* Freed before the loop ran: no callback ever. */
static void test_free_cancels(void)
{
        struct event_base *base = event_base_new();
        _cleanup_free_ char *out = make_fifo("cancel");
        int reader = open(out, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        struct ps_stdio_config cfg = {.stdout_path = out};
        struct flags f = {0};

        ps_stdio_free(ps_stdio_new(base, NULL, &cfg, on_ready, &f, NULL));
        run_for(base, 50);
        CHECK(!f.ready);
        close(reader);
        event_base_free(base);
}

/* ---- tty ----------------------------------------------------------------- */

/* What runc does with --console-socket: connect, send the master with the
 * pty name as data, close. */
static int send_master(const char *sock, int master, const char *name)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int))];
        } ctl = {0};
        struct iovec iov = {.iov_base = (void *)(uintptr_t)name, .iov_len = strlen(name)};
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = ctl.buf,
                             .msg_controllen = sizeof(ctl.buf)};
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &master, sizeof(int));
        strncpy(sa.sun_path, sock, sizeof(sa.sun_path) - 1);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -1;
        return sendmsg(fd, &msg, 0) < 0 ? -1 : 0;
}

static int open_slave(const char *name)
{
        int fd = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        struct termios t;

        if (fd >= 0 && tcgetattr(fd, &t) == 0) {
                cfmakeraw(&t); /* no echo, no CR/LF mangling */
                tcsetattr(fd, TCSANOW, &t);
        }
        return fd;
}

static void read_exact(struct event_base *base, int fd, const char *want)
{
        char buf[64] = {0};
        size_t got = 0, n = strlen(want);

        fcntl(fd, F_SETFL, O_NONBLOCK);
        for (long end = now_ms() + 2000; got < n && now_ms() < end;) {
                ssize_t r = read(fd, buf + got, n - got);
                if (r > 0)
                        got += (size_t)r;
                else
                        run_for(base, 10);
        }
        CHECK_STREQ(buf, want);
}

/* A pty whose master goes over the console socket, as runc leaves it: the
 * master only in the shim, the slave (raw) in the "process". */
static int runc_console_handover(const char *sock, char **ret_name)
{
        int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), slave;

        CHECK(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0);
        *ret_name = strdup(ptsname(master));
        slave = open_slave(*ret_name);
        CHECK(send_master(sock, master, *ret_name) == 0);
        close(master);
        return slave;
}

static void test_tty(void)
{
        struct event_base *base = event_base_new();
        _cleanup_free_ char *in = make_fifo("tin");
        _cleanup_free_ char *out = make_fifo("tout");
        _cleanup_free_ char *errp = make_fifo("terr");
        struct ps_stdio_config cfg = {.stdin_path = in,
                                      .stdout_path = out,
                                      .stderr_path = errp,
                                      .terminal = true,
                                      .tmp_dir = tmp};
        struct flags f = {0};
        struct sink k;
        int fds[3], client, slave;
        struct winsize ws;
        _cleanup_free_ char *sock = NULL, *dir = NULL;

        sink_init(&k, base, open(out, O_RDONLY | O_NONBLOCK | O_CLOEXEC));
        struct ps_stdio *s = ps_stdio_new(base, NULL, &cfg, on_ready, &f, NULL);
        CHECK(s);
        if (!s)
                return;
        ps_stdio_runtime_fds(s, fds);
        CHECK(fds[0] == -1 && fds[1] == -1 && fds[2] == -1);
        CHECK(ps_stdio_resize(s, 80, 25, NULL) == 0); /* no master yet: no-op */
        CHECK(ps_stdio_console_socket(s) != NULL);
        sock = strdup(ps_stdio_console_socket(s));
        dir = strndup(sock, strrchr(sock, '/') - sock);
        CHECK(strncmp(sock, tmp, strlen(tmp)) == 0);
        CHECK(run_until(base, &f.ready, 1000));

        _cleanup_free_ char *name = NULL;
        slave = runc_console_handover(sock, &name);
        CHECK(slave >= 0);
        CHECK(ps_stdio_started(s, NULL) == 0);
        struct stat st;
        CHECK(stat(sock, &st) < 0 && stat(dir, &st) < 0); /* socket and dir removed */

        CHECK(ps_write_all(slave, "ping", 4) == 0); /* process -> client */
        for (long end = now_ms() + 2000; k.len < 4 && now_ms() < end;)
                run_for(base, 10);
        CHECK(k.len == 4 && memcmp(k.buf, "ping", 4) == 0);
        client = open(in, O_WRONLY | O_NONBLOCK | O_CLOEXEC); /* client -> process */
        CHECK(write(client, "pong", 4) == 4);
        read_exact(base, slave, "pong");

        CHECK(ps_stdio_resize(s, 132, 43, NULL) == 0);
        CHECK(ioctl(slave, TIOCGWINSZ, &ws) == 0 && ws.ws_col == 132 && ws.ws_row == 43);

        /* No slave open: EIO on the master is not the end before drain, and
         * waiting for a slave must not spin. */
        close(slave);
        long cpu0 = cpu_ms();
        run_for(base, 300);
        CHECK(cpu_ms() - cpu0 < 100);
        slave = open_slave(name);
        CHECK(slave >= 0);
        CHECK(ps_write_all(slave, "back", 4) == 0);
        for (long end = now_ms() + 2000; k.len < 8 && now_ms() < end;)
                run_for(base, 10);
        CHECK(k.len == 8 && memcmp(k.buf + 4, "back", 4) == 0);
        CHECK(!k.eof);

        CHECK(ps_write_all(slave, "bye", 3) == 0);
        close(slave); /* the process exits */
        ps_stdio_drain(s, 60000, on_done, &f);
        CHECK(run_until(base, &f.done, 3000));
        CHECK(run_until(base, &k.eof, 1000));
        CHECK(k.len == 11 && memcmp(k.buf + 8, "bye", 3) == 0);
        close(client);
        ps_stdio_free(s);
        sink_fini(&k);
        event_base_free(base);
}

/* ---- binary:// ------------------------------------------------------------ */

static void test_binary(void)
{
        struct event_base *base = event_base_new();
        struct ps_reaper *reaper = ps_reaper_new(base, NULL);
        _cleanup_free_ char *script = path_in_tmp("logger.sh");
        _cleanup_free_ char *uri = NULL, *text = NULL, *outf = path_in_tmp("lg-out"),
                            *errf = path_in_tmp("lg-err"), *argf = path_in_tmp("lg-args");
        _cleanup_fclose_ FILE *sf = fopen(script, "we");
        struct flags f = {0};
        size_t len;
        int fds[3];

        CHECK(reaper && sf);
        if (!reaper || !sf)
                return;
        fprintf(sf,
                "#!/bin/sh\n"
                "echo \"$# $1 $2 $3 [$4] $CONTAINER_ID $CONTAINER_NAMESPACE\" > %s\n"
                "cat <&3 > %s.tmp && mv %s.tmp %s &\n"
                "cat <&4 > %s.tmp && mv %s.tmp %s &\n"
                "exec 3<&- 4<&-\n"
                "sleep 0.1\n"
                "echo x >&5\n"
                "wait\n",
                argf, outf, outf, outf, errf, errf, errf);
        fclose(TAKE_PTR(sf));
        chmod(script, 0755);
        CHECK(asprintf(&uri, "binary://%s?level=debug&quiet", script) > 0);

        struct ps_stdio_config cfg = {
            .stdout_path = uri, .stderr_path = uri, .container_id = "c1", .ns = "k8s.io"};
        struct ps_stdio *s = ps_stdio_new(base, reaper, &cfg, on_ready, &f, NULL);
        CHECK(s);
        if (!s)
                return;
        CHECK(!f.ready);
        CHECK(run_until(base, &f.ready, 5000));
        CHECK_INTEQ(f.ready_code, PS_OK);
        ps_stdio_runtime_fds(s, fds);
        CHECK(fds[0] == -1 && fds[1] >= 0 && fds[2] >= 0);
        int w1 = dup(fds[1]), w2 = dup(fds[2]);
        CHECK(ps_stdio_started(s, NULL) == 0);
        write_and_close(w1, "log out\n");
        write_and_close(w2, "log err\n");
        ps_stdio_drain(s, 1000, on_done, &f);
        CHECK(run_until(base, &f.done, 1000));
        struct stat st;
        for (long end = now_ms() + 5000; now_ms() < end && (stat(outf, &st) || stat(errf, &st));)
                run_for(base, 20);
        CHECK(ps_read_file(outf, 100, &text, &len, NULL) == 0);
        CHECK_STREQ(text, "log out\n");
        free(text);
        text = NULL;
        CHECK(ps_read_file(errf, 100, &text, &len, NULL) == 0);
        CHECK_STREQ(text, "log err\n");
        free(text);
        text = NULL;
        CHECK(ps_read_file(argf, 100, &text, &len, NULL) == 0);
        CHECK_STREQ(text, "4 level debug quiet [] c1 k8s.io\n");
        run_for(base, 100); /* the logger exits and is reaped */
        ps_stdio_free(s);
        ps_reaper_free(reaper);
        event_base_free(base);
}

/* A logger that does not exist; one still running (and not ready yet) at
 * free: no callback, SIGTERM, and the watcher that would SIGKILL it goes away
 * with its exit (ASan's leak check would see it otherwise). */
static void test_binary_terminate(void)
{
        struct event_base *base = event_base_new();
        struct ps_reaper *reaper = ps_reaper_new(base, NULL);
        _cleanup_err_ struct ps_err *e = NULL;
        _cleanup_free_ char *script = path_in_tmp("slow.sh"), *uri = NULL,
                            *pidf = path_in_tmp("slow.pid"), *text = NULL;
        _cleanup_fclose_ FILE *sf = NULL;
        struct ps_stdio_config cfg = {.stdout_path = "binary:///nonexistent/logger"};
        struct flags f = {0};
        size_t len;

        CHECK(ps_stdio_new(base, reaper, &cfg, on_ready, &f, &e) == NULL);
        CHECK(e && e->code == PS_NOT_FOUND);
        ps_err_free(TAKE_PTR(e));

        /* Opened only now: the failed spawn above forked a child that
         * could still hold a writable fd of the script (ETXTBSY on exec). */
        sf = fopen(script, "we");
        CHECK(sf && fprintf(sf, "#!/bin/sh\necho $$ > %s\nexec sleep 30\n", pidf) > 0);
        fclose(TAKE_PTR(sf));
        chmod(script, 0755);
        CHECK(asprintf(&uri, "binary://%s", script) > 0);
        cfg.stdout_path = uri;
        struct ps_stdio *s = ps_stdio_new(base, reaper, &cfg, on_ready, &f, &e);
        CHECK(s);
        run_for(base, 100);
        CHECK(!f.ready);
        CHECK(ps_read_file(pidf, 100, &text, &len, NULL) == 0);
        pid_t pid = text ? atoi(text) : 0;
        CHECK(pid > 0 && kill(pid, 0) == 0);
        ps_stdio_free(s);
        /* Gone (reaped: not even a zombie) well before the 12 s SIGKILL. */
        for (long end = now_ms() + 3000; pid > 0 && kill(pid, 0) == 0 && now_ms() < end;)
                run_for(base, 20);
        CHECK(pid > 0 && kill(pid, 0) < 0 && errno == ESRCH);
        run_for(base, 20);
        CHECK(!f.ready);
        ps_reaper_free(reaper);
        event_base_free(base);
}

int main(void)
{
        signal(SIGPIPE, SIG_IGN);
        strcpy(tmp, "/tmp/podshim-stdio-XXXXXX");
        if (!mkdtemp(tmp))
                return 1;
        RUN(test_stdout_big);
        RUN(test_stderr_separate);
        RUN(test_stdout_is_stderr);
        RUN(test_stdin);
        RUN(test_file_uri);
        RUN(test_bad_uri);
        RUN(test_drain_timeout);
        RUN(test_backpressure);
        RUN(test_free_cancels);
        RUN(test_tty);
        /* last: the reaper collects every child from here on */
        RUN(test_binary);
        RUN(test_binary_terminate);
        char *argv[] = {"rm", "-rf", tmp, NULL};
        if (fork() == 0) {
                execvp("rm", argv);
                _exit(127);
        }
        wait(NULL);
        return check_summary();
}
