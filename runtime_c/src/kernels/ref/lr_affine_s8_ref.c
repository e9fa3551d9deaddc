/*
 * lr_affine_s8_ref.c -- AFFINE (per-channel scale and shift, e.g. a standalone batch norm) of an int8 model,
 * as TFLite runs it: a depthwise 1x1 conv with int8 weights per channel and an int32 bias, CONV2D's arithmetic
 * (docs/INTEGER.md section 2): acc = bias[ch] + w[ch] * (x + in_offset), y = requant(acc, mult[ch],
 * shift[ch]) over [c][inner] (inner = 1 for a [F] tensor). One requantisation per value.
 */
#include "kernels/lr_kernels.h"

void lr_affine_s8_ref(const int8_t *x, uint32_t c, uint32_t inner, const lr_dense_s8_params *p, int8_t *y)
{
    uint32_t ch, i;
    for (ch = 0; ch < c; ch++) {
        const int32_t w = lr_s8(p->w[ch]);
        const int32_t bias = p->bias != NULL ? lr_lei32(p->bias + 4u * ch) : 0;
        const int32_t mult = lr_rq_mult(&p->rq, ch), shift = lr_rq_shift(&p->rq, ch);
        const int8_t *xc = x + (size_t)ch * inner;
        int8_t *yc = y + (size_t)ch * inner;
        for (i = 0; i < inner; i++) {
            const int32_t acc = bias + w * ((int32_t)xc[i] + p->in_offset);
            yc[i] = lr_requant(acc, mult, shift, p->rq.zp_out, p->rq.act_min, p->rq.act_max);
        }
    }
}
