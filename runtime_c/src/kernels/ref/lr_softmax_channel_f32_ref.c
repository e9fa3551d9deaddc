/*
 * lr_softmax_channel_f32_ref.c -- SOFTMAX over the channels of each pixel of [c][inner] (torch's
 * softmax(dim=1) of an NCHW tensor): per pixel p, over x[ch * inner + p] for ch < c, exp(x - max) / sum
 * with the max first, as lr_softmax_f32_ref; a NaN among a pixel's channels makes them all NaN.
 */
#include "kernels/lr_kernels.h"

void lr_softmax_channel_f32_ref(const float *x, uint32_t c, uint32_t inner, float *y)
{
    uint32_t p, ch;
    for (p = 0; p < inner; p++) {
        float mx = x[p], sum = 0.0f;
        for (ch = 1; ch < c; ch++) {
            const float v = x[ch * inner + p];
            if (v > mx || v != v) {
                mx = v;
            }
        }
        for (ch = 0; ch < c; ch++) {
            const float e = lr_expf(x[ch * inner + p] - mx);
            y[ch * inner + p] = e;
            sum += e;
        }
        for (ch = 0; ch < c; ch++) {
            y[ch * inner + p] /= sum;
        }
    }
}
