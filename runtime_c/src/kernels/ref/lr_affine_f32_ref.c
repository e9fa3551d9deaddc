/*
 * lr_affine_f32_ref.c -- AFFINE (a standalone batch norm): y[ch][i] = x[ch][i] * weight[ch] + bias[ch]
 * for x [c][inner] (a flat [F] tensor: c = F, inner = 1); multiply, then add (two roundings, as torch's
 * x * w + b). Weight and bias are read in place (fp32 or fp16); bias.p NULL: no bias.
 */
#include "kernels/lr_kernels.h"

void lr_affine_f32_ref(const float *x, uint32_t c, uint32_t inner, lr_values weight, lr_values bias, float *y)
{
    uint32_t ch, i;
    for (ch = 0; ch < c; ch++) {
        const float w = lr_value(weight, ch);
        const float b = bias.p != NULL ? lr_value(bias, ch) : 0.0f;
        for (i = 0; i < inner; i++) {
            const float v = x[ch * inner + i] * w;
            y[ch * inner + i] = bias.p != NULL ? v + b : v;
        }
    }
}
