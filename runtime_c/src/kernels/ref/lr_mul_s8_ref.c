/*
 * lr_mul_s8_ref.c -- MUL of an int8 model, TFLite's reference int8 MUL (reference_integer_ops::Mul and
 * BroadcastMul4DSlow): y = clamp(MBQM((a - zp0) * (b - zp1), mult, shift) + zp_out, act_min, act_max),
 * one multiplier from s0 * s1 / s_out. `a` is [c][inner]; `b` is the same shape, or with b_per_channel
 * one value per channel ([c] or [c][1][1]: the squeeze-and-excitation gate). The verifier bounds the
 * shift: 255 * 255 * 2^shift < 2^31 (shift <= 15), so the product, shifted, fits int32.
 */
#include "kernels/lr_kernels.h"

void lr_mul_s8_ref(const int8_t *a, const int8_t *b, uint32_t c, uint32_t inner, int b_per_channel,
                   const lr_mul_s8_params *p, int8_t *y)
{
    uint32_t ch, i;
    for (ch = 0; ch < c; ch++) {
        const int8_t *ac = a + (size_t)ch * inner;
        int8_t *yc = y + (size_t)ch * inner;
        for (i = 0; i < inner; i++) {
            const int32_t vb = (int32_t)(b_per_channel ? b[ch] : b[(size_t)ch * inner + i]) - p->zp1;
            const int32_t prod = ((int32_t)ac[i] - p->zp0) * vb;
            yc[i] = lr_requant(prod, p->mult, p->shift, p->zp_out, p->act_min, p->act_max);
        }
    }
}
