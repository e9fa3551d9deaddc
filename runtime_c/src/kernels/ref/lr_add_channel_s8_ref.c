/*
 * lr_add_channel_s8_ref.c -- ADD of an int8 model whose second input holds one value per channel of the
 * first ([C, 1, 1] or [C]), TFLite's int8 ADD with broadcasting (BroadcastAdd4DSlow): the per-element
 * arithmetic of lr_add_s8_ref, the second input's rescaled value taken once per channel.
 */
#include "kernels/lr_kernels.h"

void lr_add_channel_s8_ref(const int8_t *a, const int8_t *b, uint32_t c, uint32_t inner, const lr_add_s8_params *p,
                           int8_t *y)
{
    uint32_t ch, i;
    for (ch = 0; ch < c; ch++) {
        const int32_t sb = lr_rdbpot(lr_srdhm(((int32_t)b[ch] - p->zp1) * (1 << 20), p->mult[1]), -p->shift[1]);
        for (i = 0; i < inner; i++) {
            const int32_t va = ((int32_t)a[ch * inner + i] - p->zp0) * (1 << 20);
            const int32_t sa = lr_rdbpot(lr_srdhm(va, p->mult[0]), -p->shift[0]);
            int32_t v = lr_rdbpot(lr_srdhm(sa + sb, p->mult[2]), -p->shift[2]) + p->zp_out;
            v = v < p->act_min ? p->act_min : v > p->act_max ? p->act_max : v;
            y[ch * inner + i] = (int8_t)v;
        }
    }
}
