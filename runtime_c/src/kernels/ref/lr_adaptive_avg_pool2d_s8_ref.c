/*
 * lr_adaptive_avg_pool2d_s8_ref.c -- ADAPTIVE_AVG_POOL2D of an int8 model: output (i, j) averages the
 * input rows floor(i*H/oh) .. ceil((i+1)*H/oh) - 1 and the columns likewise (torch's bins), with the
 * int8 average pool's rounding ((sum +- n / 2) / n, C division), clamped.
 */
#include "kernels/lr_kernels.h"

void lr_adaptive_avg_pool2d_s8_ref(const lr_geom *g, int32_t act_min, int32_t act_max, const int8_t *x, int8_t *y)
{
    int32_t c, oy, ox, iy, ix;
    for (c = 0; c < g->c; c++) {
        const int8_t *xc = x + (size_t)c * (size_t)(g->h * g->w);
        for (oy = 0; oy < g->oh; oy++) {
            const int32_t y0 = (oy * g->h) / g->oh;
            const int32_t y1 = ((oy + 1) * g->h + g->oh - 1) / g->oh;
            for (ox = 0; ox < g->ow; ox++) {
                const int32_t x0 = (ox * g->w) / g->ow;
                const int32_t x1 = ((ox + 1) * g->w + g->ow - 1) / g->ow;
                const int32_t n = (y1 - y0) * (x1 - x0);
                int32_t sum = 0, avg;
                for (iy = y0; iy < y1; iy++) {
                    for (ix = x0; ix < x1; ix++) {
                        sum += xc[iy * g->w + ix];
                    }
                }
                avg = sum > 0 ? (sum + n / 2) / n : (sum - n / 2) / n;
                avg = avg < act_min ? act_min : avg > act_max ? act_max : avg;
                *y++ = (int8_t)avg;
            }
        }
    }
}
