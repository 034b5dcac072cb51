// eBPF cgroup device filters through bpf(2), which glibc does not wrap (and Swift cannot call
// the variadic syscall()). See include/CShims.h. Every function returns -errno on failure.
#include "CShims.h"

#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

const uint32_t crpod_bpf_f_allow_multi = BPF_F_ALLOW_MULTI;

static int bpf_call(int cmd, union bpf_attr *attr) {
    long rc = syscall(SYS_bpf, cmd, attr, sizeof(*attr));
    return rc < 0 ? -errno : (int)rc;
}

static int load(const uint64_t *insns, uint32_t count, const char *license, char *log, uint32_t log_size) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.insn_cnt = count;
    attr.license = (uint64_t)(uintptr_t)license;
    if (log != NULL && log_size > 0) {
        log[0] = '\0';
        attr.log_buf = (uint64_t)(uintptr_t)log;
        attr.log_size = log_size;
        attr.log_level = 1;
    }
    return bpf_call(BPF_PROG_LOAD, &attr);
}

int crpod_bpf_load_cgroup_device(const uint64_t *insns, uint32_t count, const char *license, char *log, uint32_t log_size) {
    int fd = load(insns, count, license, NULL, 0);
    // A rejected program: load it once more with the verifier log on, for the error message.
    if (fd == -EINVAL || fd == -EACCES) {
        int again = load(insns, count, license, log, log_size);
        if (again >= 0) { return again; }
    }
    return fd;
}

int crpod_bpf_attach_cgroup_device(int cgroup_fd, int prog_fd, uint32_t flags) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = (uint32_t)cgroup_fd;
    attr.attach_bpf_fd = (uint32_t)prog_fd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = flags;
    return bpf_call(BPF_PROG_ATTACH, &attr);
}

int crpod_bpf_detach_cgroup_device(int cgroup_fd, int prog_fd) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = (uint32_t)cgroup_fd;
    attr.attach_bpf_fd = (uint32_t)prog_fd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    return bpf_call(BPF_PROG_DETACH, &attr);
}

int crpod_bpf_query_cgroup_device(int cgroup_fd, uint32_t *ids, uint32_t capacity, uint32_t *count) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.query.target_fd = (uint32_t)cgroup_fd;
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
    attr.query.prog_cnt = capacity;
    int rc = bpf_call(BPF_PROG_QUERY, &attr);
    *count = attr.query.prog_cnt;
    return rc;
}

int crpod_bpf_prog_fd_by_id(uint32_t id) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_id = id;
    return bpf_call(BPF_PROG_GET_FD_BY_ID, &attr);
}

int crpod_bpf_prog_tag(int prog_fd, uint8_t tag[8]) {
    struct bpf_prog_info info;
    memset(&info, 0, sizeof(info));
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.info.bpf_fd = (uint32_t)prog_fd;
    attr.info.info_len = sizeof(info);
    attr.info.info = (uint64_t)(uintptr_t)&info;
    int rc = bpf_call(BPF_OBJ_GET_INFO_BY_FD, &attr);
    if (rc < 0) { return rc; }
    memcpy(tag, info.tag, 8);
    return (int)info.type;
}
