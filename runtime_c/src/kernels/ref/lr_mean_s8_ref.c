/*
 * lr_mean_s8_ref.c -- TFLite's int8 MEAN over H and W (an imported .tflite's global pooling), as an
 * ADAPTIVE_AVG_POOL2D to 1x1 with one multiplier (docs/INTEGER.md section 5):
 *   y[c] = clamp(MBQM(sum_c - zp_in * n, mult, shift) + zp_out), the multiplier already holding 1/n
 *   (TFLite's QuantizedMeanOrSum). The verifier bounds n * 255 * 2^max(shift, 0) below 2^31.
 */
#include "kernels/lr_kernels.h"

static int32_t channel_sum(const int8_t *x, uint32_t n)
{
    int32_t s = 0;
    uint32_t i;
    for (i = 0; i < n; i++) {
        s += x[i];
    }
    return s;
}

void lr_mean_s8_ref(const int8_t *x, uint32_t c, uint32_t n, int32_t zp_in, int32_t mult, int32_t shift,
                    int32_t zp_out, int32_t act_min, int32_t act_max, int8_t *y)
{
    uint32_t k;
    for (k = 0; k < c; k++) {
        const int32_t sum = channel_sum(x + (size_t)k * n, n) - zp_in * (int32_t)n;
        y[k] = lr_requant(sum, mult, shift, zp_out, act_min, act_max);
    }
}
