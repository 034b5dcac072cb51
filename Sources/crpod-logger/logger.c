// crpod-logger: keeps a container's stdout/stderr pipe open and appends it to a log file.
//
// Container stdio must be pipes, not files: CRIU can only dump a file descriptor whose
// path it can see from inside the container, while runc re-attaches new pipes at restore.
// Usage: crpod-logger FILE   (stdin is the read end of the container's output pipe)
// Forks into the background, prints the logger's PID once the log file is open, and
// exits; the logger itself exits when every writer has closed the pipe.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_all(int fd, const char *buf, ssize_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, (size_t)len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        buf += n;
        len -= n;
    }
    return 0;
}

static void copy_until_eof(int log_fd) {
    char buf[65536];
    for (;;) {
        ssize_t n = read(0, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (write_all(log_fd, buf, n) < 0) break;
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: crpod-logger FILE\n");
        return 2;
    }
    int log_fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (log_fd < 0) {
        fprintf(stderr, "crpod-logger: open %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    pid_t child = fork();
    if (child < 0) {
        fprintf(stderr, "crpod-logger: fork: %s\n", strerror(errno));
        return 1;
    }
    if (child > 0) {
        printf("%d\n", (int)child);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    setsid();
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 1);
        dup2(null, 2);
    }
    copy_until_eof(log_fd);
    close(log_fd);
    return 0;
}
