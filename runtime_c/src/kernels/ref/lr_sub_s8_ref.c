/*
 * lr_sub_s8_ref.c -- SUB of an int8 model (format version 7): TFLite's int8 SUB, ADD's arithmetic with the second
 * input's rescaled value subtracted: v_k = (x_k - zp_k) * 2^20, s_k = RDBPOT(SRDHM(v_k, M_k), -shift_k),
 * y = clamp(RDBPOT(SRDHM(s_0 - s_1, M_out), -shift_out) + zp_out, act_min, act_max). With `inner` > 0, b holds one
 * value per channel of a ([c][inner]), rescaled once per channel; with inner 0, a and b have n = c elements each.
 */
#include "kernels/lr_kernels.h"

static int32_t rescale(int32_t x, int32_t zp, int32_t mult, int32_t shift)
{
    return lr_rdbpot(lr_srdhm((x - zp) * (1 << 20), mult), -shift);
}

void lr_sub_s8_ref(const int8_t *a, const int8_t *b, uint32_t c, uint32_t inner, const lr_add_s8_params *p, int8_t *y)
{
    const uint32_t outer = inner > 0u ? c : 1u, per = inner > 0u ? inner : c;
    uint32_t o, j;
    for (o = 0; o < outer; o++) {
        int32_t sb = inner > 0u ? rescale(b[o], p->zp1, p->mult[1], p->shift[1]) : 0;
        for (j = 0; j < per; j++) {
            const uint32_t i = o * per + j;
            int32_t v;
            if (inner == 0u) {
                sb = rescale(b[i], p->zp1, p->mult[1], p->shift[1]);
            }
            v = lr_rdbpot(lr_srdhm(rescale(a[i], p->zp0, p->mult[0], p->shift[0]) - sb, p->mult[2]), -p->shift[2]) +
                p->zp_out;
            v = v < p->act_min ? p->act_min : v > p->act_max ? p->act_max : v;
            y[i] = (int8_t)v;
        }
    }
}
