/*
 * lr_math_f32_ref.c -- exp, exp - 1 and tanh in binary32 from +, -, * and / alone, shared by the fp32 SIGMOID, SILU,
 * SOFTMAX and TANH kernels. Every build gives the same bits for the same input (the x86-64 host, Cortex-M4F's FPU,
 * Cortex-M3's soft float: each operation is one IEEE binary32 rounding; -ffp-contract=off keeps them apart). The C
 * libraries' expf / tanhf are not bit-equal between glibc and newlib: with them an fp32 softmax differed by one ulp
 * between the host and the board.
 *
 * Method: x = k ln2 + r with |r| <= ln2/2 (ln2 in two parts, Cody and Waite, so k ln2_hi is exact for the k an
 * input can have), e^r - 1 by its Taylor series to r^7 (the next term is below 2^-28 of the result), 2^k by its bit
 * pattern. log(1 + x): 1 + x = 2^k m with sqrt(1/2) <= m < sqrt(2) (k from the bit pattern), the rounding of 1 + x
 * corrected to first order (fdlibm's log1p), log m = 2 atanh(s) with s = (m - 1) / (m + 1), |s| <= 0.172, by its
 * series to s^11. erfc: Numerical Recipes' erfcc (a Chebyshev fit, relative error below 1.2e-7 in exact arithmetic),
 * erfc(-z) = 2 - erfc(z), e^-z^2 split in two (fdlibm's erfc) so that no rounding of z^2 reaches the result.
 * Accuracy against exp / expm1 / tanh / log1p / erfc in double: tests/test_mathf.c.
 */
#include <string.h>

#include "kernels/lr_kernels.h"

#define LR_LOG2E 1.44269502f
#define LR_LN2_HI 0.693145751953125f /* 0x3F317200: 15 significant bits, so k * LR_LN2_HI is exact for |k| <= 512 */
#define LR_LN2_LO 1.42860677e-06f    /* ln 2 - LR_LN2_HI */
#define LR_HALF_LN2 0.346573591f

/* 2^k for -126 <= k <= 127, from its bit pattern. */
static float pow2i(int32_t k)
{
    const uint32_t u = (uint32_t)(k + 127) << 23;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* e^r - 1 for |r| <= ln2/2: r + r^2 (1/2 + r (1/6 + r (1/24 + r (1/120 + r (1/720 + r / 5040))))). */
static float expm1_core(float r)
{
    const float q = 0.5f + r * (0.166666672f + r * (0.0416666679f + r * (0.00833333377f +
                                                     r * (0.00138888892f + r * 0.000198412701f))));
    return r + r * r * q;
}

/* k = x / ln2 rounded to nearest (|x| < 2^20), and r = x - k ln2. */
static int32_t reduce(float x, float *r)
{
    const int32_t k = (int32_t)(x * LR_LOG2E + (x < 0.0f ? -0.5f : 0.5f));
    *r = (x - (float)k * LR_LN2_HI) - (float)k * LR_LN2_LO;
    return k;
}

float lr_expf(float x)
{
    float r, y;
    int32_t k;
    if (x != x) {
        return x;
    }
    if (x > 89.0f) {
        return 3.40282347e+38f * 2.0f; /* +inf */
    }
    if (x < -104.0f) {
        return 0.0f; /* below half the smallest subnormal */
    }
    k = reduce(x, &r);
    y = 1.0f + expm1_core(r);
    if (k > 127) { /* 2^128 is not a binary32 number: scale in two steps */
        y *= 2.0f;
        k -= 1;
    }
    if (k < -126) { /* a subnormal result */
        return y * pow2i(k + 24) * 5.96046448e-08f; /* 2^-24 */
    }
    return y * pow2i(k);
}

float lr_expm1f(float x)
{
    float r, p, s;
    int32_t k;
    if (x != x) {
        return x;
    }
    if (x <= LR_HALF_LN2 && x >= -LR_HALF_LN2) {
        return x == 0.0f ? x : expm1_core(x); /* -0 stays -0 */
    }
    if (x > 17.0f || x < -17.0f) { /* e^x - 1 rounds to e^x, or to -1 */
        return lr_expf(x) - 1.0f;
    }
    k = reduce(x, &r); /* 1 <= |k| <= 25 */
    p = expm1_core(r);
    s = pow2i(k);
    return s * p + (s - 1.0f); /* 2^k (1 + p) - 1; s - 1 exact for |k| <= 24 */
}

float lr_tanhf(float x)
{
    const float ax = x < 0.0f ? -x : x;
    float t, y;
    if (ax >= 9.0f) { /* tanh rounds to 1 (infinities too) */
        return x < 0.0f ? -1.0f : 1.0f;
    }
    if (ax < 2.44140625e-04f) { /* |x| < 2^-12: x^3/3 is below half an ulp of x (NaN falls through below) */
        return x;
    }
    t = lr_expm1f(2.0f * ax);
    y = t / (t + 2.0f); /* (e^2a - 1) / (e^2a + 1) */
    return x < 0.0f ? -y : y;
}

float lr_log1pf(float x)
{
    float u, c, m, f, s, z, w;
    uint32_t bits;
    int32_t k;
    if (x != x || x > 3.40282347e+38f) {
        return x; /* NaN, +inf */
    }
    if (x <= -1.0f) {
        return x == -1.0f ? -3.40282347e+38f * 2.0f : (x - x) / (x - x); /* -inf, NaN */
    }
    if (x < 5.96046448e-08f && x > -5.96046448e-08f) { /* |x| < 2^-24: x^2 / 2 is below half an ulp of x */
        return x;
    }
    u = 1.0f + x;
    memcpy(&bits, &u, sizeof bits);
    k = (int32_t)((bits >> 23) & 0xFFu) - 127;
    bits = (bits & 0x007FFFFFu) | 0x3F800000u; /* m in [1, 2) */
    memcpy(&m, &bits, sizeof m);
    if (m > 1.41421356f) {
        m *= 0.5f; /* exact */
        k += 1;
    }
    /* u = 1 + x rounded: c = (1 + x) - u, divided by u (first order of log(u + c) - log u) */
    c = k > 0 ? 1.0f - (u - x) : x - (u - 1.0f);
    c /= u;
    f = m - 1.0f; /* exact: m within a factor 2 of 1 */
    s = f / (2.0f + f);
    z = s * s;
    w = z * (0.666666667f + z * (0.4f + z * (0.285714298f + z * (0.222222224f + z * 0.181818187f))));
    return ((float)k * LR_LN2_HI + (c + (float)k * LR_LN2_LO)) + (f - s * (f - w));
}

float lr_erfcf(float x)
{
    const float z = x < 0.0f ? -x : x;
    const float t = 1.0f / (1.0f + 0.5f * z);
    float r, zh;
    uint32_t bits;
    if (x != x) {
        return x;
    }
    if (z > 10.0f) { /* erfc(10) = 2.1e-45: 0, or 2 below -10 (infinities too) */
        return x < 0.0f ? 2.0f : 0.0f;
    }
    memcpy(&bits, &z, sizeof bits);
    bits &= 0xFFFFF000u; /* zh: z to 12 significant bits, so zh * zh is exact and e^-z^2 = e^-zh^2 e^((zh-z)(zh+z)) */
    memcpy(&zh, &bits, sizeof zh);
    r = t * lr_expf(-zh * zh) *
        lr_expf((zh - z) * (zh + z) - 1.26551223f +
                t * (1.00002368f + t * (0.37409196f + t * (0.09678418f + t * (-0.18628806f + t * (0.27886807f +
                t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f)))))))));
    return x < 0.0f ? 2.0f - r : r;
}
