// crpod-pause: the infra process of a crpod pod.
//
// Why a clone-with-namespaces C routine instead of an infra container run by runc:
// the infra only has to own namespaces and a cgroup; it needs no rootfs, no image, no
// runc state to clean up, and it starts in about a millisecond. Doing it in a tiny
// single-threaded C program is also the only safe place to call unshare(): crpod itself
// is a multithreaded Swift process. Member containers join the namespaces through
// /proc/<infra pid>/ns/<type> paths in their config.json, exactly as with a runc infra.
//
// Usage: crpod-pause [--share ipc,net,uts,pid,cgroup] [--hostname NAME] [--cgroup-procs FILE]...
//   Moves itself into every given cgroup.procs file, unshares the shared namespaces,
//   forks the infra (PID 1 of a new PID namespace when pid is shared), prints the infra's
//   host PID on stdout once it is ready and exits. The infra reaps every zombie it
//   inherits, because as PID 1 of a shared PID namespace an unreaped zombie keeps a PID
//   taken that a later restore may need.
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CGROUPS 32

struct options {
    int unshare_flags;
    int share_pid;
    const char *hostname;
    const char *cgroup_procs[MAX_CGROUPS];
    int cgroup_count;
};

static void die(const char *what, const char *detail) {
    fprintf(stderr, "crpod-pause: %s%s%s: %s\n", what, detail ? " " : "", detail ? detail : "",
            strerror(errno));
    exit(1);
}

static void usage(const char *problem) {
    fprintf(stderr, "crpod-pause: %s\nusage: crpod-pause [--share ipc,net,uts,pid,cgroup] "
                    "[--hostname NAME] [--cgroup-procs FILE]...\n", problem);
    exit(2);
}

static int flag_for_share(const char *name, int *share_pid) {
    if (strcmp(name, "ipc") == 0) return CLONE_NEWIPC;
    if (strcmp(name, "net") == 0) return CLONE_NEWNET;
    if (strcmp(name, "uts") == 0) return CLONE_NEWUTS;
    if (strcmp(name, "cgroup") == 0) return CLONE_NEWCGROUP;
    if (strcmp(name, "pid") == 0) { *share_pid = 1; return 0; }
    errno = EINVAL;
    return -1;
}

static void parse_shares(char *list, struct options *opts) {
    for (char *save = NULL, *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        int flag = flag_for_share(item, &opts->share_pid);
        if (flag < 0) usage("unknown namespace in --share");
        opts->unshare_flags |= flag;
    }
}

static void parse_args(int argc, char **argv, struct options *opts) {
    memset(opts, 0, sizeof(*opts));
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) usage("missing value");
        if (strcmp(argv[i], "--share") == 0) {
            parse_shares(argv[++i], opts);
        } else if (strcmp(argv[i], "--hostname") == 0) {
            opts->hostname = argv[++i];
        } else if (strcmp(argv[i], "--cgroup-procs") == 0) {
            if (opts->cgroup_count == MAX_CGROUPS) usage("too many --cgroup-procs");
            opts->cgroup_procs[opts->cgroup_count++] = argv[++i];
        } else {
            usage("unknown option");
        }
    }
}

static void join_cgroup(const char *procs_file) {
    int fd = open(procs_file, O_WRONLY | O_CLOEXEC);
    if (fd < 0) die("open", procs_file);
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (write(fd, pid, (size_t)n) != n) die("write pid to", procs_file);
    close(fd);
}

static void bring_loopback_up(void) {
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) die("socket", "for loopback");
    struct ifreq req;
    memset(&req, 0, sizeof(req));
    strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
    if (ioctl(sock, SIOCGIFFLAGS, &req) < 0) die("SIOCGIFFLAGS", "lo");
    req.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(sock, SIOCSIFFLAGS, &req) < 0) die("SIOCSIFFLAGS", "lo");
    close(sock);
}

static void detach_stdio(void) {
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0) _exit(1);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    if (null > 2) close(null);
}

// The infra: wait for signals, reap zombies, exit on SIGTERM/SIGINT/SIGHUP.
static void run_infra(int ready_fd, sigset_t *waited) {
    setsid();
    if (chdir("/") < 0) _exit(1);
    detach_stdio();
    if (write(ready_fd, "1", 1) != 1) _exit(1);
    close(ready_fd);
    for (;;) {
        int sig = sigwaitinfo(waited, NULL);
        if (sig == SIGCHLD) {
            while (waitpid(-1, NULL, WNOHANG) > 0) {}
        } else if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
            _exit(0);
        }
    }
}

int main(int argc, char **argv) {
    struct options opts;
    parse_args(argc, argv, &opts);
    for (int i = 0; i < opts.cgroup_count; i++) join_cgroup(opts.cgroup_procs[i]);
    if (opts.unshare_flags && unshare(opts.unshare_flags) < 0) die("unshare", NULL);
    if (opts.hostname && (opts.unshare_flags & CLONE_NEWUTS) &&
        sethostname(opts.hostname, strlen(opts.hostname)) < 0) die("sethostname", opts.hostname);
    if (opts.unshare_flags & CLONE_NEWNET) bring_loopback_up();
    if (opts.share_pid && unshare(CLONE_NEWPID) < 0) die("unshare", "pid");

    sigset_t waited;
    sigemptyset(&waited);
    sigaddset(&waited, SIGCHLD);
    sigaddset(&waited, SIGTERM);
    sigaddset(&waited, SIGINT);
    sigaddset(&waited, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &waited, NULL) < 0) die("sigprocmask", NULL);

    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0) die("pipe2", NULL);
    pid_t infra = fork();
    if (infra < 0) die("fork", NULL);
    if (infra == 0) {
        close(ready[0]);
        run_infra(ready[1], &waited);
    }
    close(ready[1]);
    char byte;
    if (read(ready[0], &byte, 1) != 1) {
        fprintf(stderr, "crpod-pause: infra %d did not become ready\n", (int)infra);
        return 1;
    }
    printf("%d\n", (int)infra);
    return fflush(stdout) == 0 ? 0 : 1;
}
