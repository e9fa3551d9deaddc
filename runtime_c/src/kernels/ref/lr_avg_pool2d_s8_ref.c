/*
 * lr_avg_pool2d_s8_ref.c -- AVG_POOL2D of an int8 model (input and output quantised alike).
 *
 * Padding not counted (count_include_pad 0): TFLite's reference int8 average pool, the sum of the in-bounds
 * taps divided by their count n, rounded half away from zero ((sum +- n / 2) / n in C's truncating
 * division), clamped.
 * Padding counted (torch's default for a padded AvgPool2d): the padding taps are real zeros, the input zero
 * point zp in integers; the sum over the window clipped to the padded input (rows -pt .. h + pb - 1, columns
 * -pl .. w + pr - 1), padding taps as zp, divided by that window's size n with the same rounding, clamped
 * (docs/INTEGER.md). |sum| <= 128 n < 2^31: the verifier bounds kh * kw.
 */
#include "kernels/lr_kernels.h"

void lr_avg_pool2d_s8_ref(const lr_geom *g, int count_include_pad, int32_t zp, int32_t act_min, int32_t act_max,
                          const int8_t *x, int8_t *y)
{
    int32_t c, oy, ox, iy, ix;
    for (c = 0; c < g->c; c++) {
        const int8_t *xc = x + (size_t)c * (size_t)(g->h * g->w);
        for (oy = 0; oy < g->oh; oy++) {
            for (ox = 0; ox < g->ow; ox++) {
                const int32_t y0 = oy * g->sh - g->pt, x0 = ox * g->sw - g->pl;
                const int32_t ya = y0 < 0 ? 0 : y0, xa = x0 < 0 ? 0 : x0;
                const int32_t yb = y0 + g->kh < g->h ? y0 + g->kh : g->h, xb = x0 + g->kw < g->w ? x0 + g->kw : g->w;
                int32_t sum = 0, n = 0, avg;
                for (iy = ya; iy < yb; iy++) {
                    for (ix = xa; ix < xb; ix++) {
                        sum += xc[iy * g->w + ix];
                        n++;
                    }
                }
                if (count_include_pad) { /* the window within the padded input; its padding taps are zp */
                    const int32_t ye = y0 + g->kh < g->h + g->pb ? y0 + g->kh : g->h + g->pb;
                    const int32_t xe = x0 + g->kw < g->w + g->pr ? x0 + g->kw : g->w + g->pr;
                    const int32_t full = (ye - y0) * (xe - x0);
                    sum += (full - n) * zp;
                    n = full;
                }
                avg = n <= 0 ? 0 : sum > 0 ? (sum + n / 2) / n : (sum - n / 2) / n;
                avg = avg < act_min ? act_min : avg > act_max ? act_max : avg;
                *y++ = (int8_t)avg;
            }
        }
    }
}
