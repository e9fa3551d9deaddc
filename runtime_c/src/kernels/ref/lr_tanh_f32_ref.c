/*
 * lr_tanh_f32_ref.c -- TANH: y = tanh(x) (lr_tanhf: the same bits on every build; +-1 at +-inf, NaN stays NaN).
 */
#include "kernels/lr_kernels.h"

void lr_tanh_f32_ref(const float *x, uint32_t n, float *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        y[i] = lr_tanhf(x[i]);
    }
}
