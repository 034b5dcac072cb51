// crpod-sockprobe: a tiny process holding the sockets a network service holds, for CRIU to dump.
//
// Why: `criu check` passes on kernels where CRIU still cannot dump a single inet socket (CRIU
// 4.1.1 on Linux >= 6.16 fails with `sockets.c: Can't get 1:16 opt: Operation not supported`,
// CRIU issues 2705 and 2718). `crpod check` and contrib/provision.sh therefore ask CRIU to
// really dump this helper with --tcp-established.
//
// Usage: crpod-sockprobe
//   Forks the probe and exits once it is ready, printing the probe's host PID on stdout
//   (like crpod-pause). The probe starts its own session, unshares a network namespace of
//   its own (so CRIU's network lock and every socket vanish with it), brings lo up and holds:
//   a TCP listener on 127.0.0.1, an established loopback TCP pair (with unread bytes queued
//   each way) and a bound UDP socket. Its stdio is /dev/null. It waits for a signal and ends
//   by itself after 120 s (SIGALRM), so nothing outlives a probe whose caller died.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROBE_LIFETIME_SECONDS 120

static void die(const char *what) {
    fprintf(stderr, "crpod-sockprobe: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void bring_loopback_up(void) {
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) die("socket for lo");
    struct ifreq req;
    memset(&req, 0, sizeof(req));
    strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
    if (ioctl(sock, SIOCGIFFLAGS, &req) < 0) die("SIOCGIFFLAGS lo");
    req.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(sock, SIOCSIFFLAGS, &req) < 0) die("SIOCSIFFLAGS lo");
    close(sock);
}

static struct sockaddr_in loopback(void) {
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
}

// A bound socket of `type` on 127.0.0.1 (kernel-chosen port); its address in `addr`.
static int bound_socket(int type, struct sockaddr_in *addr) {
    int sock = socket(AF_INET, type, 0);
    if (sock < 0) die("socket");
    *addr = loopback();
    if (bind(sock, (struct sockaddr *)addr, sizeof(*addr)) < 0) die("bind 127.0.0.1");
    socklen_t len = sizeof(*addr);
    if (getsockname(sock, (struct sockaddr *)addr, &len) < 0) die("getsockname");
    return sock;
}

static void open_sockets(void) {
    struct sockaddr_in listen_addr, udp_addr;
    int listener = bound_socket(SOCK_STREAM, &listen_addr);
    if (listen(listener, 4) < 0) die("listen");
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (client < 0) die("socket for client");
    if (connect(client, (struct sockaddr *)&listen_addr, sizeof(listen_addr)) < 0) die("connect");
    int server = accept(listener, NULL, NULL);
    if (server < 0) die("accept");
    if (write(client, "ping", 4) != 4 || write(server, "pong", 4) != 4) die("write");
    (void)bound_socket(SOCK_DGRAM, &udp_addr);
}

static void detach_stdio(void) {
    int null = open("/dev/null", O_RDWR);
    if (null < 0) _exit(1);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    if (null > 2) close(null);
}

// Closes every inherited descriptor above stderr except `keep`: CRIU must see only the probe's own.
static void close_inherited(int keep) {
    if (keep > 3) close_range(3, (unsigned)keep - 1, 0);
    close_range((unsigned)keep + 1, ~0U, 0);
}

static void run_probe(int ready_fd) {
    close_inherited(ready_fd);
    if (setsid() < 0) die("setsid");
    if (chdir("/") < 0) die("chdir /");
    if (unshare(CLONE_NEWNET) < 0) die("unshare net");
    bring_loopback_up();
    open_sockets();
    alarm(PROBE_LIFETIME_SECONDS);
    detach_stdio();
    if (write(ready_fd, "1", 1) != 1) _exit(1);
    close(ready_fd);
    for (;;) pause();
}

int main(int argc, char **argv) {
    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: crpod-sockprobe (no arguments)\n");
        return 2;
    }
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0) die("pipe2");
    pid_t probe = fork();
    if (probe < 0) die("fork");
    if (probe == 0) {
        close(ready[0]);
        run_probe(ready[1]);
    }
    close(ready[1]);
    char byte;
    if (read(ready[0], &byte, 1) != 1) {
        fprintf(stderr, "crpod-sockprobe: probe %d did not become ready\n", (int)probe);
        return 1;
    }
    printf("%d\n", (int)probe);
    return fflush(stdout) == 0 ? 0 : 1;
}
