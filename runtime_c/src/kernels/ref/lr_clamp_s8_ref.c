/*
 * lr_clamp_s8_ref.c -- standalone RELU, RELU6 and CLAMP of an int8 model (docs/INTEGER.md section 6.4): with a
 * multiplier TFLite's int8 RELU (ReluQuantized): zp_out + MBQM(x - zp_in, M, s) clamped to [act_min, act_max];
 * without one (input and output quantised alike, TFLite Micro's RELU6) the input clamped. The verifier keeps
 * 255 * 2^max(s, 0) below 2^31.
 */
#include "kernels/lr_kernels.h"

void lr_clamp_s8_ref(const int8_t *x, uint32_t n, const lr_clamp_s8_params *p, int8_t *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        int32_t v = x[i];
        if (p->requant) {
            v = p->zp_out + lr_mbqm(v - p->zp_in, p->mult, p->shift);
        }
        v = v < p->act_min ? p->act_min : v > p->act_max ? p->act_max : v;
        y[i] = (int8_t)v;
    }
}
