/*
 * dirty-mem - checkpoint benchmark workload.
 *
 * Allocates N MiB (argv[1], default 100), dirties every 4 KiB page with
 * semi-compressible content, prints "ready", then prints a counter every
 * second forever.
 *
 * Each page is: an 8-byte page counter, RANDOM_BYTES bytes from a xorshift
 * generator (incompressible), and a repeating text pattern for the rest.
 * With RANDOM_BYTES = 1280 `zstd -3` compresses the pages about 3x, which
 * is closer to real heaps than all-zero (100x) or all-random (1x) memory.
 *
 * Build: gcc -O2 -static -o dirty-mem dirty-mem.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE 4096
#define RANDOM_BYTES 1280

static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

int main(int argc, char **argv)
{
    long mib = argc > 1 ? strtol(argv[1], NULL, 10) : 100;
    if (mib <= 0) {
        fprintf(stderr, "dirty-mem: bad size: %s\n", argv[1]);
        return 2;
    }
    size_t size = (size_t)mib << 20;
    unsigned char *mem = malloc(size);
    if (mem == NULL) {
        perror("dirty-mem: malloc");
        return 1;
    }

    static const char pattern[] = "crpod checkpoint benchmark: dirty page filler; ";
    const size_t plen = sizeof(pattern) - 1;
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    size_t pages = size / PAGE;

    for (size_t p = 0; p < pages; p++) {
        unsigned char *page = mem + p * PAGE;
        uint64_t counter = p;
        memcpy(page, &counter, sizeof counter);
        size_t off = sizeof counter;
        for (; off < sizeof counter + RANDOM_BYTES; off += 8) {
            uint64_t r = xorshift64(&seed);
            memcpy(page + off, &r, 8);
        }
        for (size_t i = 0; off < PAGE; off++, i++)
            page[off] = (unsigned char)pattern[(i + p) % plen];
    }

    printf("ready %ld MiB\n", mib);
    fflush(stdout);

    /* Keep the memory live: touch one byte per iteration. */
    for (unsigned long i = 0;; i++) {
        mem[(i * PAGE) % size] ^= 1;
        printf("%lu\n", i);
        fflush(stdout);
        sleep(1);
    }
}
