/*
 * lr_avg_pool2d_s8_ref.c -- AVG_POOL2D of an int8 model, TFLite's reference int8 average pool: the sum
 * of the in-bounds taps divided by their count n, rounded half away from zero ((sum +- n / 2) / n in
 * C's truncating division), clamped. Padding is never counted (verified: count_include_pad is false
 * when there is padding).
 */
#include "kernels/lr_kernels.h"

void lr_avg_pool2d_s8_ref(const lr_geom *g, int32_t act_min, int32_t act_max, const int8_t *x, int8_t *y)
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
                avg = n == 0 ? 0 : sum > 0 ? (sum + n / 2) / n : (sum - n / 2) / n;
                avg = avg < act_min ? act_min : avg > act_max ? act_max : avg;
                *y++ = (int8_t)avg;
            }
        }
    }
}
