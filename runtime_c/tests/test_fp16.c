/*
 * test_fp16.c -- IEEE binary16 -> binary32 conversion (lr_fp16_to_f32): golden values for every
 * class (zeros, subnormals, normals, extremes, inf, NaN), then all 65536 bit patterns against an
 * independent decoder built on ldexp.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "lr_internal.h"
#include "test_util.h"

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Reference: value = (-1)^s * m * 2^(e - 25) for normals (m with the implicit bit), via ldexp. */
static float reference(uint32_t h)
{
    int e = (int)((h >> 10) & 0x1Fu);
    double m = (double)(h & 0x3FFu), v;
    if (e == 31) {
        return (h & 0x3FFu) ? NAN : ((h & 0x8000u) ? -INFINITY : INFINITY);
    }
    v = e == 0 ? ldexp(m, -24) : ldexp(m + 1024.0, e - 25);
    return (float)((h & 0x8000u) ? -v : v);
}

struct golden {
    uint32_t h;
    uint32_t f32_bits;
};

int main(void)
{
    static const struct golden g[] = {
        {0x0000u, 0x00000000u}, /* +0 */
        {0x8000u, 0x80000000u}, /* -0: sign kept */
        {0x3C00u, 0x3F800000u}, /* 1.0 */
        {0xC000u, 0xC0000000u}, /* -2.0 */
        {0x3555u, 0x3EAAA000u}, /* 0.333251953125 */
        {0x3BFFu, 0x3F7FE000u}, /* 0.99951171875, largest below 1 */
        {0x7BFFu, 0x477FE000u}, /* 65504, largest finite */
        {0x0400u, 0x38800000u}, /* 2^-14, smallest normal */
        {0x03FFu, 0x387FC000u}, /* 1023 * 2^-24, largest subnormal */
        {0x0001u, 0x33800000u}, /* 2^-24, smallest subnormal */
        {0x8001u, 0xB3800000u}, /* -2^-24 */
        {0x0200u, 0x38000000u}, /* 2^-15, subnormal */
        {0x7C00u, 0x7F800000u}, /* +inf */
        {0xFC00u, 0xFF800000u}, /* -inf */
        {0x7E00u, 0x7FC00000u}, /* quiet NaN */
        {0x7C01u, 0x7F802000u}, /* signalling NaN: payload kept */
        {0xFE00u, 0xFFC00000u}, /* negative quiet NaN */
    };
    uint32_t i;
    for (i = 0; i < sizeof g / sizeof g[0]; i++) {
        uint32_t got = bits_of(lr_fp16_to_f32(g[i].h));
        if (got != g[i].f32_bits) {
            fprintf(stderr, "fp16 0x%04x -> 0x%08x, expected 0x%08x\n", (unsigned)g[i].h, (unsigned)got,
                    (unsigned)g[i].f32_bits);
            tu_failures++;
        }
    }
    for (i = 0; i < 65536u; i++) {
        float got = lr_fp16_to_f32(i), want = reference(i);
        if (isnan(want)) {
            TU_CHECK(isnan(got));
            TU_CHECK((bits_of(got) >> 31) == (i >> 15));
        } else if (bits_of(got) != bits_of(want)) {
            fprintf(stderr, "fp16 0x%04x -> %a, expected %a\n", (unsigned)i, (double)got, (double)want);
            tu_failures++;
        }
    }
    return tu_report("test_fp16");
}
