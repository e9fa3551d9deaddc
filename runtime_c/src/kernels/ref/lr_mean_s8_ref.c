/*
 * lr_mean_s8_ref.c -- TFLite's int8 MEAN (an imported .tflite), as an ADAPTIVE_AVG_POOL2D with one
 * multiplier whose bins are all alike (docs/INTEGER.md section 5): H / oh rows by W / ow columns, n values each:
 *   y[c][i][j] = clamp(MBQM(sum of the bin - zp_in * n, mult, shift) + zp_out), the multiplier already
 *   holding 1/n (TFLite's QuantizedMeanOrSum). Over H and W: a 1x1 output; over the channels: the map read as
 *   [1][C][H*W] (a RESHAPE before it) to 1 x H*W. The verifier checks the bins and bounds
 *   n * 255 * 2^max(shift, 0) below 2^31.
 */
#include "kernels/lr_kernels.h"

void lr_mean_s8_ref(const lr_geom *g, int32_t zp_in, int32_t mult, int32_t shift, int32_t zp_out, int32_t act_min,
                    int32_t act_max, const int8_t *x, int8_t *y)
{
    const int32_t bh = g->h / g->oh, bw = g->w / g->ow, n = bh * bw;
    int32_t c, oy, ox, iy, ix;
    for (c = 0; c < g->c; c++) {
        const int8_t *xc = x + (size_t)c * (size_t)(g->h * g->w);
        for (oy = 0; oy < g->oh; oy++) {
            for (ox = 0; ox < g->ow; ox++) {
                int32_t sum = 0;
                for (iy = oy * bh; iy < (oy + 1) * bh; iy++) {
                    for (ix = ox * bw; ix < (ox + 1) * bw; ix++) {
                        sum += xc[iy * g->w + ix];
                    }
                }
                *y++ = lr_requant(sum - zp_in * n, mult, shift, zp_out, act_min, act_max);
            }
        }
    }
}
