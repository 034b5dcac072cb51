// crpod-shmattach: attaches System V shared memory segments inside a stopped process.
//
// Why: a whole-pod restore brings members back one CRIU restore at a time into the new pod's
// IPC namespace. CRIU re-creates the pod's SysV segments once (from one member's ipcns-shm
// image) and maps a segment only in the restore that created it ("Can't find sysv shmem").
// crpod therefore removes the SysV mappings from the other members' mm images, restores
// them with --leave-stopped and has this helper attach the same segments at the same
// addresses with the same access before the tasks run again: what shmat(2) in the task
// would have done, so the members share the segment exactly as before the checkpoint.
//
// Usage: crpod-shmattach PID SHMID ADDRESS FLAGS [SHMID ADDRESS FLAGS]...
//   PID is a stopped (SIGSTOP) process in the segments' IPC namespace; ADDRESS is where the
//   segment was attached (hex with 0x), FLAGS shmat's flags in C notation (SHM_RDONLY 010000 or 4096, SHM_EXEC
//   0100000). The helper seizes the process with ptrace, makes its main thread execute
//   shmat(SHMID, ADDRESS, FLAGS) (a `syscall; int3` written over the bytes at its
//   instruction pointer), checks the segment landed at ADDRESS, puts the bytes and registers
//   back and detaches: the process stays stopped (the caller sends SIGCONT). On any failure
//   it exits 1 with one line on stderr naming the step, the PID and errno.
//   x86_64 only; elsewhere it refuses.
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t target;

static void die(const char *what) {
    fprintf(stderr, "crpod-shmattach: %s (pid %d): %s\n", what, (int)target, strerror(errno));
    exit(1);
}

#if !defined(__x86_64__)
static void die_plain(const char *what) {
    fprintf(stderr, "crpod-shmattach: %s (pid %d)\n", what, (int)target);
    exit(1);
}
#endif

static unsigned long long parse_number(const char *text, const char *what) {
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 0);
    if (errno != 0 || end == text || *end != '\0') {
        fprintf(stderr, "crpod-shmattach: %s \"%s\" is not a number\n", what, text);
        exit(2);
    }
    return value;
}

// Waits for the next stop of the tracee; anything else (it exited, was killed) is fatal.
static int wait_stopped(void) {  // the raw wait status of a stop
    int status = 0;
    for (;;) {
        pid_t got = waitpid(target, &status, __WALL);
        if (got == target) break;
        if (got < 0 && errno == EINTR) continue;
        die("waitpid");
    }
    if (!WIFSTOPPED(status)) {
        errno = ESRCH;
        die("the process ended while being attached");
    }
    return status;
}

// Resumes the tracee until it stops on a signal other than job control. The group-stop and
// interrupt reports of a seized task (PTRACE_EVENT_STOP) and a stop signal (the process is
// stopped already and stays so after the detach) resume it again; every other signal is
// blocked meanwhile (see main), so the next stop is the trap after the call.
static int run_until_trap(void) {
    for (int attempt = 0; attempt < 16; attempt++) {
        if (ptrace(PTRACE_CONT, target, NULL, NULL) != 0) die("resume into shmat");
        int status = wait_stopped();
        int signal = WSTOPSIG(status);
        if (status >> 16 == PTRACE_EVENT_STOP) continue;
        if (signal == SIGSTOP || signal == SIGTSTP || signal == SIGTTIN || signal == SIGTTOU) continue;
        return signal;
    }
    errno = EAGAIN;
    die("the process kept stopping before shmat");
    return 0;
}

#if defined(__x86_64__)
// One shmat(2) executed by the tracee; returns the address it attached at, or -errno.
static long inject_shmat(const struct user_regs_struct *saved, long shmid, unsigned long address, long flags) {
    unsigned long ip = saved->rip;
    errno = 0;
    long original = ptrace(PTRACE_PEEKTEXT, target, (void *)ip, NULL);
    if (errno != 0) die("read the code at the instruction pointer");
    // 0f 05 = syscall, cc = int3: the trap stops the tracee right after the call returns.
    long patched = (long)(((unsigned long)original & ~0xffffffUL) | 0xcc050fUL);
    if (ptrace(PTRACE_POKETEXT, target, (void *)ip, (void *)patched) != 0) die("write the syscall instruction");

    struct user_regs_struct regs = *saved;
    regs.rax = SYS_shmat;
    regs.orig_rax = (unsigned long long)-1;  // not in a syscall: no restart logic on resume
    regs.rdi = (unsigned long long)shmid;
    regs.rsi = address;
    regs.rdx = (unsigned long long)flags;
    if (ptrace(PTRACE_SETREGS, target, NULL, &regs) != 0) die("set the registers for shmat");
    int signal = run_until_trap();
    struct user_regs_struct after;
    if (ptrace(PTRACE_GETREGS, target, NULL, &after) != 0) die("read the registers after shmat");
    if (ptrace(PTRACE_POKETEXT, target, (void *)ip, (void *)original) != 0) die("restore the code");
    if (ptrace(PTRACE_SETREGS, target, NULL, saved) != 0) die("restore the registers");
    if (signal != SIGTRAP || after.rip != ip + 3) {
        fprintf(stderr, "crpod-shmattach: the process stopped with signal %d at %#llx instead of after shmat (pid %d)\n",
                signal, (unsigned long long)after.rip, (int)target);
        exit(1);
    }
    return (long)after.rax;
}
#endif

int main(int argc, char **argv) {
    if (argc < 5 || (argc - 2) % 3 != 0) {
        fprintf(stderr, "usage: crpod-shmattach PID SHMID ADDRESS FLAGS [SHMID ADDRESS FLAGS]...\n");
        return 2;
    }
    target = (pid_t)parse_number(argv[1], "PID");
#if !defined(__x86_64__)
    die_plain("attaching SysV shared memory in another process is implemented for x86_64 only");
#else
    if (ptrace(PTRACE_SEIZE, target, NULL, NULL) != 0) die("ptrace seize");
    if (ptrace(PTRACE_INTERRUPT, target, NULL, NULL) != 0) die("ptrace interrupt");
    wait_stopped();
    struct user_regs_struct saved;
    if (ptrace(PTRACE_GETREGS, target, NULL, &saved) != 0) die("read the registers");
    // No handler may run in between (it would see the segment missing): block every signal
    // while injecting, as CRIU's compel does for its parasite; pending ones stay pending.
    uint64_t mask = 0, all = ~(uint64_t)0;
    if (ptrace(PTRACE_GETSIGMASK, target, (void *)sizeof(mask), &mask) != 0) die("read the signal mask");
    if (ptrace(PTRACE_SETSIGMASK, target, (void *)sizeof(all), &all) != 0) die("block signals");
    for (int i = 2; i + 2 < argc; i += 3) {
        long shmid = (long)parse_number(argv[i], "SHMID");
        unsigned long address = (unsigned long)parse_number(argv[i + 1], "ADDRESS");
        long flags = (long)parse_number(argv[i + 2], "FLAGS");
        long result = inject_shmat(&saved, shmid, address, flags);
        if (result != (long)address) {
            if (result < 0 && result > -4096) errno = (int)-result; else errno = EFAULT;
            const char *hint = errno == EINVAL || errno == EIDRM
                ? " (no such segment in the process's IPC namespace, or its address range is taken)" : "";
            fprintf(stderr, "crpod-shmattach: shmat(%ld, %#lx, %#lo) in pid %d: %s%s\n", shmid, address, flags,
                    (int)target, result < 0 && result > -4096 ? strerror(errno) : "attached at another address", hint);
            ptrace(PTRACE_SETSIGMASK, target, (void *)sizeof(mask), &mask);
            ptrace(PTRACE_DETACH, target, NULL, NULL);
            return 1;
        }
    }
    if (ptrace(PTRACE_SETSIGMASK, target, (void *)sizeof(mask), &mask) != 0) die("restore the signal mask");
    if (ptrace(PTRACE_DETACH, target, NULL, NULL) != 0) die("ptrace detach");
    return 0;
#endif
}
