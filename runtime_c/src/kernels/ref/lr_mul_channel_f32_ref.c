/*
 * lr_mul_channel_f32_ref.c -- MUL broadcast over channels (squeeze-and-excitation): a is [c][inner],
 * b holds one value per channel ([C, 1, 1] or [C]); y[ch][i] = a[ch][i] * b[ch].
 */
#include "kernels/lr_kernels.h"

void lr_mul_channel_f32_ref(const float *a, const float *b, uint32_t c, uint32_t inner, float *y)
{
    uint32_t ch, i;
    for (ch = 0; ch < c; ch++) {
        const float s = b[ch];
        for (i = 0; i < inner; i++) {
            y[ch * inner + i] = a[ch * inner + i] * s;
        }
    }
}
