/*
 * lr_linear_s8_ref.c -- LINEAR of an int8 model, as TFLite's reference FullyConnected (per-channel or
 * one multiplier): acc = bias[o] + sum_i w[o][i] * (x[i] + in_offset), requantised.
 */
#include "kernels/lr_kernels.h"

void lr_linear_s8_ref(const int8_t *x, uint32_t in, uint32_t out, const lr_dense_s8_params *p, int8_t *y)
{
    uint32_t o, i;
    for (o = 0; o < out; o++) {
        const unsigned char *w = p->w + (size_t)o * in;
        int32_t acc = p->bias ? lr_lei32(p->bias + 4u * o) : 0;
        for (i = 0; i < in; i++) {
            acc += lr_s8(w[i]) * ((int32_t)x[i] + p->in_offset);
        }
        y[o] = lr_requant(acc, lr_rq_mult(&p->rq, o), lr_rq_shift(&p->rq, o), p->rq.zp_out, p->rq.act_min,
                          p->rq.act_max);
    }
}
