// See include/CShims.h: libarchive file-type constants and SHA-256 over OpenSSL EVP.
#include "CShims.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/xattr.h>

const int crpod_o_path = O_PATH;

const uint32_t crpod_ae_ifmt = AE_IFMT;
const uint32_t crpod_ae_ifreg = AE_IFREG;
const uint32_t crpod_ae_ifdir = AE_IFDIR;
const uint32_t crpod_ae_iflnk = AE_IFLNK;
const uint32_t crpod_ae_ifchr = AE_IFCHR;
const uint32_t crpod_ae_ifblk = AE_IFBLK;
const uint32_t crpod_ae_ififo = AE_IFIFO;
const uint32_t crpod_ae_ifsock = AE_IFSOCK;

struct crpod_sha256 {
    EVP_MD_CTX *md;
};

crpod_sha256 *crpod_sha256_new(void) {
    crpod_sha256 *ctx = OPENSSL_zalloc(sizeof(*ctx));
    if (ctx == NULL) return NULL;
    ctx->md = EVP_MD_CTX_new();
    if (ctx->md == NULL || EVP_DigestInit_ex(ctx->md, EVP_sha256(), NULL) != 1) {
        crpod_sha256_free(ctx);
        return NULL;
    }
    return ctx;
}

int crpod_sha256_update(crpod_sha256 *ctx, const void *data, size_t len) {
    if (ctx == NULL || ctx->md == NULL) return -EINVAL;
    if (len == 0) return 0;
    return EVP_DigestUpdate(ctx->md, data, len) == 1 ? 0 : -EIO;
}

int crpod_sha256_final(crpod_sha256 *ctx, uint8_t out[32]) {
    if (ctx == NULL || ctx->md == NULL) return -EINVAL;
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(ctx->md, out, &n) != 1 || n != 32) return -EIO;
    return 0;
}

void crpod_sha256_free(crpod_sha256 *ctx) {
    if (ctx == NULL) return;
    EVP_MD_CTX_free(ctx->md);
    OPENSSL_free(ctx);
}

long crpod_flistxattr(int fd, char *list, size_t size) {
    ssize_t n = flistxattr(fd, list, size);
    return n < 0 ? -errno : (long)n;
}

long crpod_fgetxattr(int fd, const char *name, void *value, size_t size) {
    ssize_t n = fgetxattr(fd, name, value, size);
    return n < 0 ? -errno : (long)n;
}
