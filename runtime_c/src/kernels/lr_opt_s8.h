/*
 * lr_opt_s8.h -- private helpers and declarations of the optimised int8 kernels (kernels/opt/).
 *
 * The optimised kernels compute the same exact int32 accumulator as their references (integers: any
 * summation order gives the same sum, and the verifier's bound |bias| + 255 * sum |W| < 2^31 bounds
 * every partial sum they form), hence the same int8 outputs bit for bit. On cores with the DSP
 * extension (__ARM_FEATURE_DSP: Cortex-M4, M7, M33 with DSP) they use the ACLE SIMD intrinsics
 * (SXTB16, SXTAB16, SMLAD: two 16-bit multiply-adds per instruction); elsewhere (hosts, M0, M3) a
 * portable C fallback with the same blocking. lr_run.c calls them unless LR_OPT_KERNELS is 0 (runtime.mk:
 * LR_KERNELS=opt, the default, builds them; LR_KERNELS=ref only the reference kernels, -DLR_OPT_KERNELS=0).
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

/* Column of output pixel (oy, ox) of the group's input channels at x (per = cin_g * kh * kw int16 values
 * x + in_offset, 0 for padding taps; on the DSP path each full group of four in the order (0, 2, 1, 3)):
 * the dense opt conv's im2col, shared with the LinRep direct path. */
void lr_opt_im2col(const lr_geom *g, const int8_t *x, int32_t oy, int32_t ox, int32_t in_offset, int32_t per,
                   int16_t *col);

#endif /* LR_OPT_S8_H */
