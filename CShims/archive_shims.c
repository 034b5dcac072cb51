// See include/CShims.h: libarchive file-type constants, SHA-256 over nettle and the
// writeback-starting libarchive output.
#include "CShims.h"

#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

const int crpod_o_path = O_PATH;

const uint32_t crpod_ae_ifmt = AE_IFMT;
const uint32_t crpod_ae_ifreg = AE_IFREG;
const uint32_t crpod_ae_ifdir = AE_IFDIR;
const uint32_t crpod_ae_iflnk = AE_IFLNK;
const uint32_t crpod_ae_ifchr = AE_IFCHR;
const uint32_t crpod_ae_ifblk = AE_IFBLK;
const uint32_t crpod_ae_ififo = AE_IFIFO;
const uint32_t crpod_ae_ifsock = AE_IFSOCK;

// nettle rather than OpenSSL: libarchive already loads libnettle, so crpod does not map
// libcrypto (1.4 MiB of an idle daemon's RSS); both use the CPU's SHA instructions.
struct crpod_sha256 {
    struct sha256_ctx state;
    int finished;
};

crpod_sha256 *crpod_sha256_new(void) {
    crpod_sha256 *ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) return NULL;
    sha256_init(&ctx->state);
    return ctx;
}

int crpod_sha256_update(crpod_sha256 *ctx, const void *data, size_t len) {
    if (ctx == NULL || ctx->finished) return -EINVAL;
    if (len == 0) return 0;
    sha256_update(&ctx->state, len, data);
    return 0;
}

int crpod_sha256_final(crpod_sha256 *ctx, uint8_t out[32]) {
    if (ctx == NULL || ctx->finished) return -EINVAL;
    sha256_digest(&ctx->state, SHA256_DIGEST_SIZE, out);
    ctx->finished = 1;
    return 0;
}

void crpod_sha256_free(crpod_sha256 *ctx) {
    free(ctx);
}

long crpod_flistxattr(int fd, char *list, size_t size) {
    ssize_t n = flistxattr(fd, list, size);
    return n < 0 ? -errno : (long)n;
}

long crpod_fgetxattr(int fd, const char *name, void *value, size_t size) {
    ssize_t n = fgetxattr(fd, name, value, size);
    return n < 0 ? -errno : (long)n;
}

// MARK: - writeback-starting output (see crpod_writeback in include/CShims.h)

void crpod_writeback_init(crpod_writeback *wb, int fd, int64_t window) {
    memset(wb, 0, sizeof(*wb));
    wb->fd = fd;
    wb->window = window > 0 ? window : 0;
    wb->hints_enabled = window > 0;
}

static int crpod_writeback_fail(struct archive *a, crpod_writeback *wb, const char *operation, int err) {
    if (wb->error == 0) {
        wb->error = err;
        wb->operation = operation;
    }
    archive_set_error(a, err, "%s: %s", operation, strerror(err));
    return -1;
}

/// One sync_file_range call; returns 0, or -errno for a real I/O error. Unsupported → hints off.
static int crpod_writeback_range(crpod_writeback *wb, int64_t start, int64_t end, unsigned int flags) {
    if (!wb->hints_enabled || end <= start) return 0;
    int rc;
    do { rc = sync_file_range(wb->fd, start, end - start, flags); } while (rc < 0 && errno == EINTR);
    if (rc == 0) return 0;
    if (errno == EINVAL || errno == ESPIPE || errno == ENOSYS || errno == EOPNOTSUPP) {
        wb->hints_enabled = 0;
        return 0;
    }
    return -errno;
}

/// After each full window: start writeback of it, then wait for the window before it.
static int crpod_writeback_advance(crpod_writeback *wb) {
    if (!wb->hints_enabled || wb->written - wb->started < wb->window) return 0;
    int64_t previous = wb->started;
    int rc = crpod_writeback_range(wb, previous, wb->written, SYNC_FILE_RANGE_WRITE);
    if (rc < 0) return rc;
    wb->started = wb->written;
    wb->ranges_started += 1;
    unsigned int wait = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
    rc = crpod_writeback_range(wb, wb->waited, previous, wait);
    if (rc < 0) return rc;
    wb->waited = previous;
    return 0;
}

static la_ssize_t crpod_writeback_write(struct archive *a, void *client, const void *buffer, size_t length) {
    crpod_writeback *wb = client;
    const char *bytes = buffer;
    size_t done = 0;
    while (done < length) {
        ssize_t n = write(wb->fd, bytes + done, length - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return crpod_writeback_fail(a, wb, "write", errno);
        if (n == 0) return crpod_writeback_fail(a, wb, "write", EIO);
        done += (size_t)n;
    }
    wb->written += (int64_t)done;
    int rc = crpod_writeback_advance(wb);
    if (rc < 0) return crpod_writeback_fail(a, wb, "sync_file_range", -rc);
    return (la_ssize_t)done;
}

int crpod_archive_write_open_writeback(struct archive *a, crpod_writeback *wb) {
    return archive_write_open2(a, wb, NULL, crpod_writeback_write, NULL, NULL);
}
