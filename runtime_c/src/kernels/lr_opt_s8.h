/*
 * lr_opt_s8.h -- private helpers and declarations of the optimised int8 kernels (kernels/opt/).
 *
 * The optimised kernels compute the same exact int32 accumulator as their references (integers: any
 * summation order gives the same sum, and the verifier's bound |bias| + 255 * sum |W| < 2^31 bounds
 * every partial sum they form), hence the same int8 outputs bit for bit. On cores with the DSP
 * extension (__ARM_FEATURE_DSP: Cortex-M4, M7, M33 with DSP) they use the ACLE SIMD intrinsics
 * (SXTB16, SXTAB16, SMLAD: two 16-bit multiply-adds per instruction); elsewhere (hosts, M0, M3) a
 * portable C fallback with the same blocking. lr_run.c calls those of the kinds LR_OPT_KERNELS selects
 * (lr_internal.h; runtime.mk's LR_KERNELS: opt, the default, every kind; ref none, -DLR_OPT_KERNELS=0; or a
 * list such as linrep+add).
 */
#ifndef LR_OPT_S8_H
#define LR_OPT_S8_H

#include "kernels/lr_kernels.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define LR_DSP 1
#else
#define LR_DSP 0
#endif

/* A function kept out of line: its caller's hot loop keeps the registers (and its frame stays small). */
#if defined(__GNUC__)
#define LR_NOINLINE __attribute__((noinline))
#else
#define LR_NOINLINE
#endif

/* A step inlined into its loops in every build (-Os would call it per step). */
#if defined(__GNUC__)
#define LR_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define LR_ALWAYS_INLINE inline
#endif

/* LR_OPT_FAST: the shape-specific fast paths (constant-position 3 x 3 and 1 x 1 gathers, the one-channel 3 x 3
 * path): on by default, off in size-optimised builds (-Os), where the generic loops do the same work in a
 * fraction of the code; a build option (linrep.h), so -Os with -DLR_OPT_FAST=1 is a build too (it takes the dense
 * conv's eight-tap dot-product step and inlines lr_opt_out2, whose requantisation assembly every DSP build has;
 * the other inline-assembly loops stay out of -Os builds). Results are the same in every build. */
#ifndef LR_OPT_FAST
#if defined(__OPTIMIZE_SIZE__)
#define LR_OPT_FAST 0
#else
#define LR_OPT_FAST 1
#endif
#endif

/* LR_OPT_WIDE: in fast-path builds, the padded-plane kernel of one-input-channel convs with 5- or 7-wide kernels
 * (lr_plane_wide_s8_opt.c; about 3 KB at -O2 on Cortex-M4), unless the build option LR_PLANE_WIDE (linrep.h) is 0:
 * a firmware whose blob has no such conv (export-project and mcu-bench write it from the blob), which then runs
 * such convs, if any, by the generic paths. Results are the same in every build. */
#ifndef LR_PLANE_WIDE
#define LR_PLANE_WIDE 1
#endif
#define LR_OPT_WIDE (LR_OPT_FAST && LR_PLANE_WIDE)

/* Four bytes at p (any alignment) as a little-endian word: one LDR on Cortex-M3 and up. */
static inline uint32_t lr_ld32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The int32 little-endian at p (bias, multiplier vectors read in place): one unaligned LDR on
 * little-endian targets, the reader's byte assembly elsewhere. */
static inline int32_t lr_opt_lei32(const unsigned char *p)
{
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return lr_as_i32(lr_ld32(p));
#else
    return lr_lei32(p);
#endif
}

#if LR_DSP
/* Sign-extended bytes (0, 2) and (1, 3) of a word as int16 pairs (SXTB16, SXTB16 with ROR #8). */
static inline int16x2_t lr_sx02(uint32_t v)
{
    return __sxtb16((int8x4_t)v);
}

static inline int16x2_t lr_sx13(uint32_t v)
{
#if defined(__GNUC__)
    int16x2_t r; /* GCC does not fold the rotation into SXTB16's operand: one instruction instead of two */
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
#else
    return __sxtb16((int8x4_t)((v >> 8) | (v << 24)));
#endif
}

/* The same, each half added to the halves of a (SXTAB16). */
static inline int16x2_t lr_sxa02(int16x2_t a, uint32_t v)
{
    return __sxtab16(a, (int8x4_t)v);
}

static inline int16x2_t lr_sxa13(int16x2_t a, uint32_t v)
{
#if defined(__GNUC__)
    int16x2_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(v));
    return r;
#else
    return __sxtab16(a, (int8x4_t)((v >> 8) | (v << 24)));
#endif
}
#endif

/* Shared core of the depthwise conv and the LinRep direct path: one output channel with int32 kernels
 * w [cin_g][kh][kw] (any values within the verifier's bound), as lr_conv2d_channel_s8_ref, with the
 * interior pixels (every tap in bounds) computed as bias + in_offset * sum(w) + sum w * x. */
void lr_conv2d_channel_s8_opt(const lr_geom *g, const int8_t *x, const int32_t *w, int32_t bias, int32_t in_offset,
                              int32_t mult, int32_t shift, const lr_requant_s8 *rq, int8_t *y);

/* Two output pixels' im2col columns, interleaved in one buffer of 2 * per int16 values (per = cin_g * kh * kw,
 * tap k = (i * kh + ky) * kw + kx, value x + in_offset, 0 for padding taps): for k below nfull = per & ~3, each
 * group of four taps (k0 .. k0 + 3) takes 8 values as four words (pixel 0: taps k0, k0 + 2; pixel 1: the
 * same; pixel 0: taps k0 + 1, k0 + 3; pixel 1: the same), the order in which SXTB16 splits a word of four
 * int8 weights (bytes 0, 2 and 1, 3), so that one weight word and two column words feed two SMLADs per
 * pixel; the last per - nfull taps follow as (pixel 0, pixel 1) pairs. lr_opt_col_pos gives the position. */
static inline int32_t lr_opt_col_pos(int32_t k, int32_t nfull, int32_t j)
{
    return k < nfull ? ((k >> 2) << 3) + ((k & 1) << 2) + (j << 1) + ((k >> 1) & 1) : 2 * k + j;
}

/* Pixel j (0 or 1) of the interleaved columns at col: output pixel (oy, ox) of the group's input channels
 * at x. */
void lr_opt_im2col(const lr_geom *g, const int8_t *x, int32_t oy, int32_t ox, int32_t in_offset, int32_t j,
                   int16_t *col);

/* Both columns for output pixels q and q + 1 (row-major; q + 1 == npx: pixel q twice). */
void lr_opt_im2col2(const lr_geom *g, const int8_t *x, int32_t q, int32_t in_offset, int16_t *col);

/* Arithmetic shift right (floor(x / 2^e), 0 <= e <= 31): one ASR where the compiler's >> on a negative int32 is
 * arithmetic (GCC, Clang: the condition folds to a constant), the portable floor otherwise. */
static inline int32_t lr_opt_asr(int32_t x, int32_t e)
{
    return ((int32_t)-1 >> 1) == -1 ? x >> e : (x >= 0 ? x >> e : ~(~x >> e));
}

/* TFLite's requantisation (lr_requant) of one channel, its constants taken apart once: the same int8 for
 * every accumulator. With a right shift e = -shift >= 1 and mult > 0 (every conv of a TFLite model) the
 * doubling high multiply and the rounding shift are one 64-bit multiply-add and one shift:
 *     SRDHM(v, M) = floor((v M + 2^30) / 2^31)            (TFLite's nudge 1 - 2^30 for negative products, then
 *                                                         truncation, is the same floor; v = M = INT32_MIN
 *                                                         cannot occur with M > 0)
 *     RDBPOT(h, e) = floor((h + 2^(e-1) - [h < 0]) / 2^e) (half away from zero)
 *     so MBQM(v) = floor((v M + 2^30 + 2^(30+e) - [v M + 2^30 < 0] 2^31) / 2^(31+e))
 * (floor(floor(a / p) + c) / q) = floor((a + c p) / (p q)) for integer c). The sign test may take v < 0 instead
 * of v M + 2^30 < 0: they differ only for -2^30 <= v M < 0, where either numerator lies in [0, 2^(31+e)) and
 * both give 0. The sum is taken unsigned with 2^62 added (|v M| < 2^62: non-negative), so its high word
 * shifted right by e - 1 is the result + 2^(31-e), taken off with the zero point (zc, modulo 2^32: the result
 * fits int32). Other shifts (left shifts, e = 0, M = 0) take lr_requant. */
typedef struct lr_opt_rq {
    uint64_t kpos; /* 2^62 + 2^30 + 2^(30+e); 2^31 less for v < 0 */
    int32_t mult, shift, sh, lo, hi;
    uint32_t zc; /* zp - 2^(31-e), modulo 2^32; zp itself for lr_requant (sh < 0) */
} lr_opt_rq;

/* MBQM(acc) + zp, unclamped, for a right shift e = sh + 1 (sh 0 .. 30) as one 64-bit sum: acc M + kpos - [acc < 0]
 * 2^31, its high word >> sh, + zc; kpos = 2^62 + 2^30 + 2^(30+e) and zc = zp - 2^(31-e), computed without branches
 * (the high and low words without 64-bit variable shifts). */
static inline uint64_t lr_opt_kpos(uint32_t sh)
{
    return ((uint64_t)(0x40000000u + ((1u << sh) >> 1)) << 32) | (0x40000000u + ((1u << sh) << 31));
}

static inline uint32_t lr_opt_zc(int32_t zp, uint32_t sh)
{
    return (uint32_t)zp - (0x40000000u >> sh);
}

static inline int32_t lr_opt_mbqm_k(int32_t acc, int32_t mult, uint64_t kpos, uint32_t sh, uint32_t zc)
{
    const uint64_t n = (uint64_t)((int64_t)acc * mult) + kpos - (acc < 0 ? 0x80000000u : 0u);
    return lr_as_i32(((uint32_t)(n >> 32) >> sh) + zc);
}

static inline void lr_opt_rq_set(lr_opt_rq *r, int32_t mult, int32_t shift, int32_t zp, int32_t lo, int32_t hi)
{
    const uint32_t sh = (uint32_t)(-shift - 1); /* e - 1: 0 .. 30 for a right shift e = 1 .. 31 */
    r->mult = mult;
    r->shift = shift;
    r->lo = lo;
    r->hi = hi;
    r->sh = -1; /* lr_requant */
    r->kpos = 0u;
    r->zc = (uint32_t)zp;
    if (sh <= 30u && mult > 0) {
        r->sh = (int32_t)sh;
        r->kpos = lr_opt_kpos(sh);
        r->zc = lr_opt_zc(zp, sh);
    }
}

static inline void lr_opt_rq_init(lr_opt_rq *r, const lr_requant_s8 *q, uint32_t o)
{
    lr_opt_rq_set(r, lr_opt_lei32(q->mult + 4u * (q->n == 1u ? 0u : o)), lr_rq_shift(q, o), q->zp_out, q->act_min,
                  q->act_max);
}

/* MBQM(acc) + zp, unclamped (r->sh >= 0 only). */
static inline int32_t lr_opt_mbqm_zp(int32_t acc, const lr_opt_rq *r)
{
    return lr_opt_mbqm_k(acc, r->mult, r->kpos, (uint32_t)r->sh, r->zc);
}

/* lr_requant with r's constants (the shifts lr_opt_rq_set leaves to it), out of line: the callers' hot loops keep
 * their registers (lr_conv2d_channel_s8_opt.c). */
int8_t lr_opt_requant_any(int32_t acc, const lr_opt_rq *r);

static inline int8_t lr_opt_requant(int32_t acc, const lr_opt_rq *r)
{
    int32_t v;
    if (r->sh < 0) {
        return lr_opt_requant_any(acc, r);
    }
    v = lr_opt_mbqm_zp(acc, r);
    v = v < r->lo ? r->lo : v;
    return (int8_t)(v > r->hi ? r->hi : v);
}

#if LR_DSP && defined(__GNUC__)
/* MBQM(v) + zp of accumulator v into OUT, unclamped, for r->sh >= 0 (lr_opt_mbqm_k): the 64-bit sum (H, L) = kpos
 * (KHI, KLO) + v M (SMLAL) + [v < 0] INT32_MIN (T = v >> 31, SMLAL by MININT), H >> SH + ZC; 7 instructions. The
 * requantisation runs below and the dense conv's pairs_sat / pairs_clamp. */
#define LR_RQ_TEXT(V, T, OUT, L, H, KLO, KHI, M, MININT, SH, ZC) \
    "mov " L ", " KLO "\n\t" \
    "mov " H ", " KHI "\n\t" \
    "smlal " L ", " H ", " V ", " M "\n\t" \
    "lsr " T ", " V ", #31\n\t" \
    "smlal " L ", " H ", " T ", " MININT "\n\t" \
    "lsr " H ", " H ", " SH "\n\t" \
    "add " OUT ", " H ", " ZC "\n\t"
#endif

#if LR_DSP && defined(__GNUC__) && defined(__OPTIMIZE__)
/* lr_opt_requant_n's loop on DSP cores for r->sh >= 0 and r->hi == 127, n >= 1: per accumulator v the 64-bit sum
 * kpos + v M - [v < 0] 2^31 as SMLAL (kpos) and SMLAL ([v < 0] times INT32_MIN), the high word shifted and offset
 * (zc), SSAT to int8 (the upper bound 127) and the lower bound: 15 instructions. Thirteen registers. */
static inline void lr_opt_requant_n_dsp(const int32_t *acc, int32_t n, const lr_opt_rq *r, int8_t *y)
{
    const uint32_t klo = (uint32_t)r->kpos, khi = (uint32_t)(r->kpos >> 32), minint = 0x80000000u;
    const int32_t mult = r->mult, sh = r->sh, lo = r->lo;
    const uint32_t zc = r->zc;
    const int8_t *const end = y + n;
    uint32_t a, l, h;
    __asm__ volatile("1:\n\t"
                     "ldr %[a], [%[acc]], #4\n\t" LR_RQ_TEXT("%[a]", "%[a]", "%[h]", "%[l]", "%[h]", "%[klo]", "%[khi]",
                                                                "%[mult]", "%[minint]", "%[sh]", "%[zc]")
                     "ssat %[h], #8, %[h]\n\t"
                     "cmp %[h], %[lo]\n\t"
                     "it lt\n\t"
                     "movlt %[h], %[lo]\n\t"
                     "strb %[h], [%[y]], #1\n\t"
                     "cmp %[y], %[end]\n\t"
                     "bne 1b"
                     : [acc] "+r"(acc), [y] "+r"(y), [a] "=&r"(a), [l] "=&r"(l), [h] "=&r"(h)
                     : [klo] "r"(klo), [khi] "r"(khi), [minint] "r"(minint), [mult] "r"(mult), [sh] "r"(sh),
                       [zc] "r"(zc), [lo] "r"(lo), [end] "r"(end)
                     : "cc", "memory");
}
#endif

#if LR_DSP && defined(__GNUC__) && defined(__OPTIMIZE__) && LR_OPT_FAST
/* lr_opt_requant_n_dsp's loop for lo == -128 too (SSAT alone clamps: ReLU with zero point -128, no activation),
 * two accumulators per step (one LDRD): 21 instructions per two, n >= 2 even. With the fast paths. */
static inline void lr_opt_requant_n2_sat(const int32_t *acc, int32_t n, const lr_opt_rq *r, int8_t *y)
{
    const uint32_t klo = (uint32_t)r->kpos, khi = (uint32_t)(r->kpos >> 32), minint = 0x80000000u;
    const int32_t mult = r->mult, sh = r->sh;
    const uint32_t zc = r->zc;
    const int8_t *const end = y + n;
    uint32_t a, b, l, h;
#define LR_RQS(v) \
    LR_RQ_TEXT("%[" v "]", "%[" v "]", "%[h]", "%[l]", "%[h]", "%[klo]", "%[khi]", "%[mult]", "%[minint]", "%[sh]", \
               "%[zc]") \
    "ssat %[h], #8, %[h]\n\t" \
    "strb %[h], [%[y]], #1\n\t"
    __asm__ volatile("1:\n\t"
                     "ldrd %[a], %[b], [%[acc]], #8\n\t" LR_RQS("a") LR_RQS("b")
                     "cmp %[y], %[end]\n\t"
                     "bne 1b"
                     : [acc] "+r"(acc), [y] "+r"(y), [a] "=&r"(a), [b] "=&r"(b), [l] "=&r"(l), [h] "=&r"(h)
                     : [klo] "r"(klo), [khi] "r"(khi), [minint] "r"(minint), [mult] "r"(mult), [sh] "r"(sh),
                       [zc] "r"(zc), [end] "r"(end)
                     : "cc", "memory");
#undef LR_RQS
}
#endif

/* n accumulators of one channel requantised into y (the shift tested once). */
static inline void lr_opt_requant_n(const int32_t *acc, int32_t n, const lr_opt_rq *r, int8_t *y)
{
    int32_t k;
#if LR_DSP && defined(__GNUC__) && defined(__OPTIMIZE__) && LR_OPT_FAST
    if (r->sh >= 0 && r->hi == 127 && r->lo == -128 && n >= 2) {
        const int32_t n2 = n & ~1;
        lr_opt_requant_n2_sat(acc, n2, r, y);
        if (n2 == n) {
            return;
        }
        acc += n2, y += n2, n = 1;
    }
#endif
#if LR_DSP && defined(__GNUC__) && defined(__OPTIMIZE__)
    if (r->sh >= 0 && r->hi == 127 && n >= 1) {
        lr_opt_requant_n_dsp(acc, n, r, y);
        return;
    }
#endif
    if (r->sh < 0) {
        for (k = 0; k < n; k++) {
            y[k] = lr_opt_requant_any(acc[k], r);
        }
        return;
    }
    for (k = 0; k < n; k++) {
        int32_t v = lr_opt_mbqm_zp(acc[k], r);
        v = v < r->lo ? r->lo : v;
        y[k] = (int8_t)(v > r->hi ? r->hi : v);
    }
}

/* lr_opt_requant_n out of line (lr_conv2d_channel_s8_opt.c): one copy of its loop for every kernel that requantises
 * runs of accumulators, and their hot loops keep their registers (its loop takes thirteen). */
void lr_opt_requant_run(const int32_t *acc, int32_t n, const lr_opt_rq *r, int8_t *y);

/* Two accumulators of one channel (multiplier mult, shift) requantised into y[0] and, if n == 2, y[1]: the
 * constants of lr_opt_rq_set in registers (no struct: the dense conv calls it per pair of outputs). */
#if defined(__GNUC__) && LR_OPT_FAST
#define LR_OPT_INLINE inline __attribute__((always_inline)) /* no call per pair of outputs */
#else
#define LR_OPT_INLINE inline
#endif
static LR_OPT_INLINE void lr_opt_out2(int32_t a0, int32_t a1, int32_t mult, int32_t shift, const lr_requant_s8 *q,
                                      int8_t *y, int32_t n)
{
    const uint32_t sh = (uint32_t)(-shift - 1); /* e - 1: 0 .. 30 for a right shift e = 1 .. 31 */
    if (sh <= 30u && mult > 0) { /* lr_opt_rq_set's constants */
        const int32_t lo = q->act_min, hi = q->act_max;
        const uint64_t kpos = lr_opt_kpos(sh);
        const uint32_t zc = lr_opt_zc(q->zp_out, sh);
#if LR_DSP && defined(__GNUC__)
        /* per accumulator v: (h, l) = (khi, klo) + v M (SMLAL) - [v < 0] 2^31, then h >> sh + zc, clamped: 14
         * instructions (GCC's code for the C below: about 20, plus the constants' reloads) */
        const uint32_t khi = (uint32_t)(kpos >> 32), klo = (uint32_t)kpos;
        uint32_t l, h, t;
#define LR_RQ1(v) \
    "mov %[l], %[klo]\n\t" \
    "mov %[h], %[khi]\n\t" \
    "smlal %[l], %[h], %[" v "], %[m]\n\t" \
    "and %[t], %[" v "], #0x80000000\n\t" \
    "subs %[l], %[l], %[t]\n\t" \
    "sbc %[h], %[h], #0\n\t" \
    "lsr %[h], %[h], %[sh]\n\t" \
    "add %[" v "], %[h], %[zc]\n\t" \
    "cmp %[" v "], %[lo]\n\t" \
    "it lt\n\t" \
    "movlt %[" v "], %[lo]\n\t" \
    "cmp %[" v "], %[hi]\n\t" \
    "it gt\n\t" \
    "movgt %[" v "], %[hi]\n\t"
        __asm__(LR_RQ1("a0") LR_RQ1("a1")
                : [a0] "+&r"(a0), [a1] "+&r"(a1), [l] "=&r"(l), [h] "=&r"(h), [t] "=&r"(t)
                : [m] "r"(mult), [sh] "r"(sh), [khi] "r"(khi), [klo] "r"(klo), [zc] "r"(zc), [lo] "r"(lo), [hi] "r"(hi)
                : "cc");
#undef LR_RQ1
        y[0] = (int8_t)a0;
        if (n > 1) {
            y[1] = (int8_t)a1;
        }
#else
        int32_t v = lr_opt_mbqm_k(a0, mult, kpos, sh, zc);
        v = v < lo ? lo : v;
        y[0] = (int8_t)(v > hi ? hi : v);
        if (n > 1) {
            v = lr_opt_mbqm_k(a1, mult, kpos, sh, zc);
            v = v < lo ? lo : v;
            y[1] = (int8_t)(v > hi ? hi : v);
        }
#endif
        return;
    }
    y[0] = lr_requant(a0, mult, shift, q->zp_out, q->act_min, q->act_max);
    if (n > 1) {
        y[1] = lr_requant(a1, mult, shift, q->zp_out, q->act_min, q->act_max);
    }
}

/* Rows iy0 .. iy0 + ph - 1 of the input plane xc (g->h x g->w), columns -g->pl .. -g->pl + pw - 1, copied into pp
 * (ph x pw bytes) with `fill` outside the input: a padded plane in which every tap of a pixel is inside (fill =
 * -in_offset, so that fill + in_offset contributes 0; an int8, as in_offset = -zp). With `border` 0 only the part
 * inside the input is written: pp already holds a plane of the same geometry and fill (the next channel's). */
static inline void lr_opt_pad_plane(const lr_geom *g, const int8_t *xc, int32_t iy0, int32_t ph, int32_t pw, int8_t fill,
                                    int8_t *pp, int border)
{
    const int32_t lo = g->pl < pw ? g->pl : pw, end = g->w + g->pl < pw ? g->w + g->pl : pw;
    const int32_t hi = end > lo ? end : lo; /* the plane's columns inside the input: [lo, hi) */
    const int32_t r0 = iy0 < 0 ? -iy0 : 0, r1 = g->h - iy0 < ph ? g->h - iy0 : ph; /* rows inside: [r0, r1) */
#if LR_OPT_FAST
    const int32_t nw = (hi - lo) >> 2, nb = (hi - lo) & 3; /* whole words and bytes of a row */
#endif
    const int8_t *s;
    int32_t row;
    if (border) {
        memset(pp, fill, (size_t)ph * (size_t)pw);
    }
    if (r1 <= r0 || hi <= lo) {
        return;
    }
    s = xc + (size_t)(iy0 + r0) * (size_t)g->w + (size_t)(lo - g->pl);
    pp += (size_t)r0 * (size_t)pw + (size_t)lo;
    for (row = r0; row < r1; row++, pp += pw, s += g->w) {
#if LR_OPT_FAST /* a word at a time: no call per row (narrow maps' rows are short) */
        int8_t *d = pp;
        const int8_t *t = s;
        int32_t k;
        for (k = 0; k < nw; k++, t += 4, d += 4) { /* nw, nb: counted once per plane */
            const uint32_t v = lr_ld32(t);
            memcpy(d, &v, sizeof v);
        }
        for (k = 0; k < nb; k++) {
            d[k] = t[k];
        }
#else /* the smallest code */
        memcpy(pp, s, (size_t)(hi - lo));
#endif
    }
}

/* Output channel o (y: oh x ow) of a conv with 3-wide kernels (kw = 3, dh = dw = 1, any kh, stride and padding)
 * straight from the int8 input x (the group's cin_g channels), as lr_conv2d_s8_ref / the LinRep direct reference:
 * the kernels packed per input channel and kernel row as four int16 (w0, w2, w1, 0) at pk (4 * cin_g * kh), rows[ky]
 * the sum of W over the input channels and kx of kernel row ky (kh values), bias and channel o's requantisation in
 * q. Every |W| within int16 and the verifier's bound. Stride 1 (and stride 2 on DSP cores) takes two pixels per
 * step from one word per kernel row (lr_chan3_s8_opt.c); border pixels as the reference. No scratch. */
void lr_opt_chan3(const lr_geom *g, const int8_t *x, const int16_t *pk, const int32_t *rows, int32_t bias,
                  int32_t in_offset, const lr_requant_s8 *q, uint32_t o, int8_t *y);

/* The int8 kernel w (kh x 3) of an output channel with one input channel (depthwise) packed for lr_opt_chan3 into
 * pk (4 * kh int16) and rows (kh int32). */
void lr_opt_pack3_s8(const unsigned char *w, int32_t kh, int16_t *pk, int32_t *rows);

/* The tallest 5- or 7-wide kernel lr_opt_plane_wide takes (its packed rows are on the stack). */
#define LR_PLANE_WIDE_KH 7

#if LR_OPT_FAST
/* lr_conv2d_s8_opt_plane_words (lr_kernels.h) of 3 x 3 kernels (lr_conv2d_s8_opt.c) and of kh x 5 and kh x 7 ones
 * (lr_plane_wide_s8_opt.c: one input channel, kh <= LR_PLANE_WIDE_KH, dilation 1, stride 1, or 2 for depthwise
 * convs); 0 for other convs. */
uint64_t lr_opt_plane3_words(const lr_geom *g);
uint64_t lr_opt_plane_wide_words(const lr_geom *g);

/* Output channel y (oh x ow) of a 3 x 3, stride 1, dilation 1 conv of one input channel x with the nine kernel
 * values w (int16, within the verifier's bound; dense convs widen their int8 weights, the LinRep direct path
 * rebuilds W = a t + b), bias and channel o's requantisation in q, as lr_conv2d_channel_s8_ref: interior pixels
 * in pairs from one word per kernel row (lr_conv2d_s8_opt.c), border pixels as the reference. Given a padded plane
 * (g with no padding: lr_opt_pad_plane) every pixel is interior. */
void lr_opt_chan3x3(const lr_geom *g, const int8_t *x, const int16_t *w, int32_t bias, int32_t in_offset,
                    const lr_requant_s8 *q, uint32_t o, int8_t *y);

/* The geometry gp of the padded plane of a conv g with 3 x 3 kernels (dilation 1): every tap of every output pixel
 * inside, no padding (g->sh (oh - 1) + 3 rows of g->sw (ow - 1) + 3 bytes; lr_opt_pad_plane copies it). */
void lr_opt_plane_geom(const lr_geom *g, lr_geom *gp);

/* Output channel y of a 3 x 3 conv of one input channel at stride 1 or 2 (dilation 1), as lr_opt_chan3x3, on the
 * padded plane x of geometry g (lr_opt_plane_geom) in lr_conv2d_s8_opt_plane_words words, whose 3 spare bytes past
 * the plane it may read: whole output rows (or pieces of wide ones) at a time, each row's pixel pairs without a
 * single last pixel (on narrow maps, a keyword-spotting net's 25 x 5, the per-row work dominates lr_opt_chan3x3). */
void lr_opt_plane3x3(const lr_geom *g, const int8_t *x, const int16_t *w, int32_t bias, int32_t in_offset,
                     const lr_requant_s8 *q, uint32_t o, int8_t *y);

/* Output channel y of a conv of one input channel with kh x kw kernels (kw 5 or 7, 1 <= kh <= LR_PLANE_WIDE_KH; the
 * 5 x 5 and 7 x 7 depthwise convs) at stride 1 or 2 (the same both ways, dilation 1), as lr_opt_plane3x3, on the
 * padded plane x of geometry g (lr_opt_plane_wide_geom) in lr_opt_plane_wide_words words, whose 3 spare bytes past
 * the plane it may read; w: the kh x kw kernel values as int16 within the verifier's bound (lr_plane_wide_s8_opt.c). */
void lr_opt_plane_wide(const lr_geom *g, const int8_t *x, const int16_t *w, int32_t bias, int32_t in_offset,
                       const lr_requant_s8 *q, uint32_t o, int8_t *y);

/* The geometry gp of the padded plane of a conv g with kh x kw kernels, as lr_opt_plane_geom's (g->sh (oh - 1) + kh
 * rows of g->sw (ow - 1) + kw bytes). */
void lr_opt_plane_wide_geom(const lr_geom *g, lr_geom *gp);

/* A conv of one input channel per group with kh x 5 or kh x 7 kernels as lr_conv2d_s8_opt_n: given
 * lr_opt_plane_wide_words(g) (> 0) words of scratch, each input channel copied into a padded plane and every output
 * channel of it by lr_opt_plane_wide; returns 1. Otherwise returns 0 having written nothing (lr_conv2d_s8_opt_n's
 * other paths take the conv). */
int lr_opt_conv_plane_wide(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int32_t *scratch,
                           uint32_t words, int8_t *y);
#endif

#endif /* LR_OPT_S8_H */
