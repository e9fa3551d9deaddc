/*
 * lr_max_pool2d_s8_ref.c -- MAX_POOL2D of an int8 model: the largest in-bounds tap (input and output
 * quantised alike; padding taps are skipped, every window has one: verified), clamped.
 */
#include "kernels/lr_kernels.h"

void lr_max_pool2d_s8_ref(const lr_geom *g, int32_t act_min, int32_t act_max, const int8_t *x, int8_t *y)
{
    int32_t c, oy, ox, ky, kx;
    for (c = 0; c < g->c; c++) {
        const int8_t *xc = x + (size_t)c * (size_t)(g->h * g->w);
        for (oy = 0; oy < g->oh; oy++) {
            for (ox = 0; ox < g->ow; ox++) {
                int32_t best = -128;
                for (ky = 0; ky < g->kh; ky++) {
                    const int32_t iy = oy * g->sh - g->pt + ky * g->dh;
                    if (iy < 0 || iy >= g->h) {
                        continue;
                    }
                    for (kx = 0; kx < g->kw; kx++) {
                        const int32_t ix = ox * g->sw - g->pl + kx * g->dw;
                        if (ix >= 0 && ix < g->w && xc[iy * g->w + ix] > best) {
                            best = xc[iy * g->w + ix];
                        }
                    }
                }
                best = best < act_min ? act_min : best > act_max ? act_max : best;
                *y++ = (int8_t)best;
            }
        }
    }
}
