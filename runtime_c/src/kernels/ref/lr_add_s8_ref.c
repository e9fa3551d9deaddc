/*
 * lr_add_s8_ref.c -- ADD of an int8 model, TFLite's reference int8 ADD: each input offset and shifted
 * left by 20, rescaled by its multiplier (below one), summed, rescaled to the output, + zp, clamped.
 */
#include "kernels/lr_kernels.h"

void lr_add_s8_ref(const int8_t *a, const int8_t *b, uint32_t n, const lr_add_s8_params *p, int8_t *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        const int32_t va = ((int32_t)a[i] - p->zp0) * (1 << 20), vb = ((int32_t)b[i] - p->zp1) * (1 << 20);
        const int32_t sa = lr_rdbpot(lr_srdhm(va, p->mult[0]), -p->shift[0]);
        const int32_t sb = lr_rdbpot(lr_srdhm(vb, p->mult[1]), -p->shift[1]);
        int32_t v = lr_rdbpot(lr_srdhm(sa + sb, p->mult[2]), -p->shift[2]) + p->zp_out;
        v = v < p->act_min ? p->act_min : v > p->act_max ? p->act_max : v;
        y[i] = (int8_t)v;
    }
}
