// CShims: only what glibc hides from Swift (macros, variadics, raw syscalls) plus
// libselinux, libcap and libsystemd. Every wrapper returns -errno on failure so Swift
// never reads a stale errno.
#ifndef CRPOD_CSHIMS_H
#define CRPOD_CSHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/socket.h>

// Namespace clone flags (macros Swift cannot import).
extern const int crpod_clone_newipc;
extern const int crpod_clone_newnet;
extern const int crpod_clone_newpid;
extern const int crpod_clone_newuts;
extern const int crpod_clone_newcgroup;
extern const int crpod_clone_newns;
extern const int crpod_clone_newuser;
extern const int crpod_clone_newtime;

// Namespaces. Only for single-threaded callers: setns affects the calling thread.
int crpod_setns(int fd, int nstype);
int crpod_unshare(int flags);

// pidfd.
int crpod_pidfd_open(pid_t pid);
// A duplicate, in the caller, of file descriptor `fd` of the process behind `pidfd` (Linux 5.6).
int crpod_pidfd_getfd(int pidfd, int fd);

/* SO_PEERCRED (hidden behind asm headers Swift does not import). */
static inline int crpod_so_peercred(void) { return SO_PEERCRED; }
int crpod_pidfd_send_signal(int pidfd, int sig);

// openat2 with RESOLVE_* flags; returns an fd or -errno.
extern const uint64_t crpod_resolve_in_root;
extern const uint64_t crpod_resolve_no_symlinks;
extern const uint64_t crpod_resolve_beneath;
extern const uint64_t crpod_resolve_no_magiclinks;
int crpod_openat2(int dirfd, const char *path, int flags, unsigned int mode, uint64_t resolve);
// O_PATH (glibc defines it only under _GNU_SOURCE, which Swift's Glibc module does not see).
extern const int crpod_o_path;

// Mounts.
int crpod_mount(const char *source, const char *target, const char *fstype,
                unsigned long flags, const char *data);
int crpod_umount2(const char *target, int flags);
extern const int crpod_mnt_detach;
// renameat2(RENAME_NOREPLACE): glibc declares it only under _GNU_SOURCE. -EEXIST when `to` exists.
int crpod_rename_noreplace(const char *from, const char *to);

// Capabilities (libcap): 1 if the effective set holds the capability, 0 if not, -errno on error.
int crpod_cap_effective(int capability);
int crpod_cap_from_name(const char *name);
extern const int crpod_cap_sys_admin;
extern const int crpod_cap_sys_ptrace;
extern const int crpod_cap_checkpoint_restore;
extern const int crpod_cap_sys_resource;

// SELinux (libselinux). Labels are written into buf (NUL-terminated); return length or -errno.
int crpod_selinux_enabled(void);
int crpod_selinux_enforcing(void);
int crpod_getpidcon(pid_t pid, char *buf, size_t len);
int crpod_getfilecon(const char *path, char *buf, size_t len);

// systemd (libsystemd).
int crpod_sd_notify(int unset_environment, const char *state);
int crpod_sd_listen_fds(int unset_environment);
int crpod_sd_listen_fds_start(void);
int crpod_sd_journal_sendv(const struct iovec *iov, int n);

// inotify helpers.
extern const uint32_t crpod_in_all_events;
size_t crpod_inotify_event_header_size(void);

// libarchive (the archive module uses it directly) and the file-type macros Swift cannot
// import because they are casts: ((__LA_MODE_T)0100000).
#include <archive.h>
#include <archive_entry.h>
extern const uint32_t crpod_ae_ifmt;
extern const uint32_t crpod_ae_ifreg;
extern const uint32_t crpod_ae_ifdir;
extern const uint32_t crpod_ae_iflnk;
extern const uint32_t crpod_ae_ifchr;
extern const uint32_t crpod_ae_ifblk;
extern const uint32_t crpod_ae_ififo;
extern const uint32_t crpod_ae_ifsock;

// libarchive output to an fd that starts writeback while writing: every `window` bytes the
// range just written is handed to sync_file_range(SYNC_FILE_RANGE_WRITE) and the range before
// it is waited for, so dirty pages stay bounded and the final fsync is short. A failed write
// (or a writeback I/O error) sets `error` to the errno and `operation` to the call's name, and
// the callback returns -1 so libarchive fails the current call. Writeback hints the kernel
// does not support on this file (EINVAL, ESPIPE, ENOSYS) only turn the hints off.
typedef struct crpod_writeback {
    int fd;
    int hints_enabled;
    int64_t window;
    int64_t written;       // bytes written so far
    int64_t started;       // end of the ranges handed to SYNC_FILE_RANGE_WRITE
    int64_t waited;        // end of the ranges waited for
    int64_t ranges_started;
    int error;             // errno of the first failure, 0 if none
    const char *operation; // "write" or "sync_file_range", static string
} crpod_writeback;
void crpod_writeback_init(crpod_writeback *wb, int fd, int64_t window);
int crpod_archive_write_open_writeback(struct archive *a, crpod_writeback *wb);

// SHA-256 through nettle. new returns NULL when out of memory; update/final return 0, or
// -EINVAL after final. final writes 32 bytes to out and may be called once.
typedef struct crpod_sha256 crpod_sha256;
crpod_sha256 *crpod_sha256_new(void);
int crpod_sha256_update(crpod_sha256 *ctx, const void *data, size_t len);
int crpod_sha256_final(crpod_sha256 *ctx, uint8_t out[32]);
void crpod_sha256_free(crpod_sha256 *ctx);

// Extended attributes by fd (sys/xattr.h is not visible to Swift). Length or -errno.
long crpod_flistxattr(int fd, char *list, size_t size);
long crpod_fgetxattr(int fd, const char *name, void *value, size_t size);

// eBPF cgroup device filters (bpf(2); BPF_PROG_TYPE_CGROUP_DEVICE, attach type BPF_CGROUP_DEVICE).
// load: an fd (close-on-exec) or -errno; when the verifier rejects the program, `log` (if
// given) holds its log. query: the ids of the programs attached to the cgroup itself, up to
// `capacity`, and in `count` how many there are (-ENOSPC when more than fit). prog_tag: the
// program's 8-byte tag (a hash of its instructions) in `tag`; returns the program type.
extern const uint32_t crpod_bpf_f_allow_multi;
int crpod_bpf_load_cgroup_device(const uint64_t *insns, uint32_t count, const char *license, char *log, uint32_t log_size);
int crpod_bpf_attach_cgroup_device(int cgroup_fd, int prog_fd, uint32_t flags);
int crpod_bpf_detach_cgroup_device(int cgroup_fd, int prog_fd);
int crpod_bpf_query_cgroup_device(int cgroup_fd, uint32_t *ids, uint32_t capacity, uint32_t *count);
int crpod_bpf_prog_fd_by_id(uint32_t id);
int crpod_bpf_prog_tag(int prog_fd, uint8_t tag[8]);

#endif
