/*
 * lr_clamp_f32_ref.c -- CLAMP (clamp, hardtanh): min(max(x, lo), hi). Bounds may be -inf / +inf (an
 * absent bound); lo > hi gives hi everywhere, as torch.clamp. NaN inputs stay NaN.
 */
#include "kernels/lr_kernels.h"

void lr_clamp_f32_ref(const float *x, uint32_t n, float lo, float hi, float *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        const float v = x[i] < lo ? lo : x[i];
        y[i] = v > hi ? hi : v;
    }
}
