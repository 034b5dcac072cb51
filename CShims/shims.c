// See include/CShims.h. Every function returns -errno on failure.
#include "CShims.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <selinux/selinux.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE 40
#endif

const int crpod_clone_newipc = CLONE_NEWIPC;
const int crpod_clone_newnet = CLONE_NEWNET;
const int crpod_clone_newpid = CLONE_NEWPID;
const int crpod_clone_newuts = CLONE_NEWUTS;
const int crpod_clone_newcgroup = CLONE_NEWCGROUP;
const int crpod_clone_newns = CLONE_NEWNS;
const int crpod_clone_newuser = CLONE_NEWUSER;
const int crpod_clone_newtime = CLONE_NEWTIME;

const uint64_t crpod_resolve_in_root = RESOLVE_IN_ROOT;
const uint64_t crpod_resolve_no_symlinks = RESOLVE_NO_SYMLINKS;
const uint64_t crpod_resolve_beneath = RESOLVE_BENEATH;
const uint64_t crpod_resolve_no_magiclinks = RESOLVE_NO_MAGICLINKS;

const int crpod_mnt_detach = MNT_DETACH;

const int crpod_cap_sys_admin = CAP_SYS_ADMIN;
const int crpod_cap_sys_ptrace = CAP_SYS_PTRACE;
const int crpod_cap_checkpoint_restore = CAP_CHECKPOINT_RESTORE;
const int crpod_cap_sys_resource = CAP_SYS_RESOURCE;

const uint32_t crpod_in_all_events = IN_ALL_EVENTS;

static int neg_errno(int rc) { return rc < 0 ? -errno : rc; }

int crpod_setns(int fd, int nstype) { return neg_errno(setns(fd, nstype)); }
int crpod_unshare(int flags) { return neg_errno(unshare(flags)); }

int crpod_pidfd_open(pid_t pid) { return neg_errno((int)syscall(SYS_pidfd_open, pid, 0)); }
int crpod_pidfd_getfd(int pidfd, int fd) { return neg_errno((int)syscall(SYS_pidfd_getfd, pidfd, fd, 0)); }

int crpod_pidfd_send_signal(int pidfd, int sig) {
    return neg_errno((int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0));
}

int crpod_openat2(int dirfd, const char *path, int flags, unsigned int mode, uint64_t resolve) {
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = (uint64_t)flags | O_CLOEXEC;
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = resolve;
    return neg_errno((int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how)));
}

int crpod_mount(const char *source, const char *target, const char *fstype,
                unsigned long flags, const char *data) {
    return neg_errno(mount(source, target, fstype, flags, data));
}

int crpod_umount2(const char *target, int flags) { return neg_errno(umount2(target, flags)); }

int crpod_rename_noreplace(const char *from, const char *to) {
    return neg_errno(renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE));
}

int crpod_cap_effective(int capability) {
    cap_t caps = cap_get_proc();
    if (caps == NULL) return -errno;
    cap_flag_value_t value = CAP_CLEAR;
    int rc = cap_get_flag(caps, (cap_value_t)capability, CAP_EFFECTIVE, &value);
    int saved = errno;
    cap_free(caps);
    if (rc < 0) return -saved;
    return value == CAP_SET ? 1 : 0;
}

int crpod_cap_from_name(const char *name) {
    cap_value_t value;
    if (cap_from_name(name, &value) < 0) return -EINVAL;
    return (int)value;
}

int crpod_selinux_enabled(void) { return is_selinux_enabled() > 0 ? 1 : 0; }
int crpod_selinux_enforcing(void) { return neg_errno(security_getenforce()); }

static int copy_label(char *label, int rc, char *buf, size_t len) {
    if (rc < 0) return -errno;
    size_t n = strlen(label);
    if (n + 1 > len) { freecon(label); return -ERANGE; }
    memcpy(buf, label, n + 1);
    freecon(label);
    return (int)n;
}

int crpod_getpidcon(pid_t pid, char *buf, size_t len) {
    char *label = NULL;
    int rc = getpidcon(pid, &label);
    return copy_label(label, rc, buf, len);
}

int crpod_getfilecon(const char *path, char *buf, size_t len) {
    char *label = NULL;
    int rc = getfilecon(path, &label);
    return copy_label(label, rc, buf, len);
}

int crpod_sd_notify(int unset_environment, const char *state) { return sd_notify(unset_environment, state); }
int crpod_sd_listen_fds(int unset_environment) { return sd_listen_fds(unset_environment); }
int crpod_sd_listen_fds_start(void) { return SD_LISTEN_FDS_START; }
int crpod_sd_journal_sendv(const struct iovec *iov, int n) { return sd_journal_sendv(iov, n); }

size_t crpod_inotify_event_header_size(void) { return sizeof(struct inotify_event); }
