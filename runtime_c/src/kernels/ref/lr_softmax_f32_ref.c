/*
 * lr_softmax_f32_ref.c -- SOFTMAX over n values: exp(x - max) / sum, max first so that exp never overflows; a NaN
 * anywhere makes every output NaN, as in torch.
 */
#include "kernels/lr_kernels.h"

void lr_softmax_f32_ref(const float *x, uint32_t n, float *y)
{
    uint32_t i;
    float mx = x[0], sum = 0.0f;
    for (i = 1; i < n; i++) {
        if (x[i] > mx || x[i] != x[i]) {
            mx = x[i];
        }
    }
    for (i = 0; i < n; i++) {
        y[i] = lr_expf(x[i] - mx);
        sum += y[i];
    }
    for (i = 0; i < n; i++) {
        y[i] /= sum;
    }
}
