/*
 * lr_linear_s8_opt.c -- LINEAR of an int8 model, optimised (equal to lr_linear_s8_ref bit for bit): two
 * output rows at a time share every input value loaded. With the DSP extension, four inputs per step:
 * SXTAB16 sign-extends bytes (0, 2) and (1, 3) of the input word and adds in_offset to each half (x +
 * in_offset fits int16), SXTB16 does the same split on the weights, and two SMLADs per row accumulate
 * the four products. Elsewhere the same two-row blocking in plain C. No scratch.
 */
#include "kernels/lr_opt_s8.h"

/* acc[r] += sum_i w_r[i] * (x[i] + in_offset) for the rows at w0 and w1. */
static void dot2(const int8_t *x, uint32_t in, int32_t in_offset, const unsigned char *w0, const unsigned char *w1,
                 int32_t *a0, int32_t *a1)
{
    int32_t s0 = *a0, s1 = *a1;
    uint32_t i = 0u;
#if LR_DSP
    const int16x2_t off2 = (int16x2_t)(((uint32_t)in_offset & 0xffffu) | ((uint32_t)in_offset << 16));
    for (; i + 4u <= in; i += 4u) {
        const uint32_t xv = lr_ld32(x + i), wa = lr_ld32(w0 + i), wb = lr_ld32(w1 + i);
        const int16x2_t x02 = lr_sxa02(off2, xv), x13 = lr_sxa13(off2, xv);
        s0 = __smlad(lr_sx02(wa), x02, s0);
        s0 = __smlad(lr_sx13(wa), x13, s0);
        s1 = __smlad(lr_sx02(wb), x02, s1);
        s1 = __smlad(lr_sx13(wb), x13, s1);
    }
#endif
    for (; i < in; i++) {
        const int32_t v = (int32_t)x[i] + in_offset;
        s0 += lr_s8(w0[i]) * v;
        s1 += lr_s8(w1[i]) * v;
    }
    *a0 = s0;
    *a1 = s1;
}

void lr_linear_s8_opt(const int8_t *x, uint32_t in, uint32_t out, const lr_dense_s8_params *p, int8_t *y)
{
    uint32_t o, c;
    for (o = 0u; o < out; o += 2u) {
        const uint32_t nc = o + 1u < out ? 2u : 1u;
        int32_t acc[2] = {0, 0};
        for (c = 0u; c < nc; c++) {
            acc[c] = p->bias ? lr_lei32(p->bias + 4u * (o + c)) : 0;
        }
        dot2(x, in, p->in_offset, p->w + (size_t)o * in, p->w + (size_t)(o + nc - 1u) * in, &acc[0], &acc[1]);
        for (c = 0u; c < nc; c++) {
            y[o + c] = lr_requant(acc[c], lr_rq_mult(&p->rq, o + c), lr_rq_shift(&p->rq, o + c), p->rq.zp_out,
                                  p->rq.act_min, p->rq.act_max);
        }
    }
}
