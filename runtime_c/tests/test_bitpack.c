/*
 * test_bitpack.c -- the packed index layout (lr_unpack_index), pinned by golden bytes.
 *
 * Layout (linrep_edge/bitpack.py): indices form one little-endian bit stream; index n occupies
 * stream bits [n*w, (n+1)*w), least significant bit first; stream bit j is bit j%8 of byte j/8.
 * Worked example, w = 3, indices [5, 1, 7]:
 *     5 = 101b -> stream bits 0..2 = 1,0,1
 *     1 = 001b -> stream bits 3..5 = 1,0,0
 *     7 = 111b -> stream bits 6..8 = 1,1,1
 *     byte 0 = bits 7..0 = 1100 1101 = 0xCD; byte 1 = 0000 0001 = 0x01
 * The golden bytes below were produced by linrep_edge.bitpack.pack_indices.
 * Then a round trip: a C packer written from the description, random widths and values, exact
 * buffer sizes (run under ASan by `make sanitize`: no read past ceil(n*w/8) bytes).
 */
#include <stdint.h>
#include <string.h>

#include "lr_internal.h"
#include "test_util.h"

struct golden {
    uint32_t width;
    uint32_t n;
    uint32_t values[9];
    uint32_t n_bytes;
    unsigned char bytes[8];
};

static void pack(const uint32_t *v, uint32_t n, uint32_t w, unsigned char *out)
{
    uint32_t i, b;
    memset(out, 0, (n * w + 7u) / 8u);
    for (i = 0; i < n; i++) {
        for (b = 0; b < w; b++) {
            uint32_t j = i * w + b;
            out[j / 8u] = (unsigned char)(out[j / 8u] | (((v[i] >> b) & 1u) << (j % 8u)));
        }
    }
}

int main(void)
{
    static const struct golden g[] = {
        {3, 3, {5, 1, 7}, 2, {0xCD, 0x01}},
        {1, 9, {1, 0, 1, 1, 0, 0, 1, 0, 1}, 2, {0x4D, 0x01}},
        {4, 5, {0x3, 0xA, 0xF, 0x1, 0x7}, 3, {0xA3, 0x1F, 0x07}},
        {7, 4, {0x55, 0x01, 0x7F, 0x40}, 4, {0xD5, 0xC0, 0x1F, 0x08}},
        {8, 4, {0x00, 0xFF, 0x12, 0x80}, 4, {0x00, 0xFF, 0x12, 0x80}},
        {12, 3, {0xABC, 0x123, 0xFFF}, 5, {0xBC, 0x3A, 0x12, 0xFF, 0x0F}},
        {16, 3, {0x1234, 0xFFFF, 0x0001}, 6, {0x34, 0x12, 0xFF, 0xFF, 0x01, 0x00}},
    };
    unsigned state = 12345u;
    uint32_t i, k, round;
    for (i = 0; i < sizeof g / sizeof g[0]; i++) {
        unsigned char packed[8];
        /* exact-size heap copy so that ASan catches any read past the packed bytes */
        unsigned char *exact = (unsigned char *)tu_xmalloc(g[i].n_bytes);
        TU_CHECK((g[i].n * g[i].width + 7u) / 8u == g[i].n_bytes);
        pack(g[i].values, g[i].n, g[i].width, packed);
        TU_CHECK(memcmp(packed, g[i].bytes, g[i].n_bytes) == 0);
        memcpy(exact, g[i].bytes, g[i].n_bytes);
        for (k = 0; k < g[i].n; k++) {
            uint32_t got = lr_unpack_index(exact, k, g[i].width);
            if (got != g[i].values[k]) {
                fprintf(stderr, "width %u index %u: got %u, expected %u\n", (unsigned)g[i].width,
                        (unsigned)k, (unsigned)got, (unsigned)g[i].values[k]);
                tu_failures++;
            }
        }
        free(exact);
    }
    for (round = 0; round < 2000u; round++) {
        uint32_t w = 1u + tu_rand(&state) % 16u, n = 1u + tu_rand(&state) % 40u;
        uint32_t v[40];
        unsigned char *buf = (unsigned char *)tu_xmalloc((n * w + 7u) / 8u);
        for (k = 0; k < n; k++) {
            v[k] = tu_rand(&state) & ((1u << w) - 1u);
        }
        pack(v, n, w, buf);
        for (k = 0; k < n; k++) {
            TU_CHECK(lr_unpack_index(buf, k, w) == v[k]);
        }
        free(buf);
    }
    return tu_report("test_bitpack");
}
