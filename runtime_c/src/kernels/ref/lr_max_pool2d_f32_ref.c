/*
 * lr_max_pool2d_f32_ref.c -- MAX_POOL2D on [C, H, W] as torch.nn.functional.max_pool2d (floor mode):
 * padding counts as -inf; a NaN in the window wins.
 */
#include <math.h>

#include "kernels/lr_kernels.h"

void lr_max_pool2d_f32_ref(const lr_geom *g, const float *x, float *y)
{
    int32_t c, oy, ox, ky, kx;
    for (c = 0; c < g->c; c++) {
        const float *xc = x + c * g->h * g->w;
        for (oy = 0; oy < g->oh; oy++) {
            for (ox = 0; ox < g->ow; ox++) {
                float best = -INFINITY;
                for (ky = 0; ky < g->kh; ky++) {
                    const int32_t iy = oy * g->sh - g->pt + ky * g->dh;
                    if (iy < 0 || iy >= g->h) {
                        continue;
                    }
                    for (kx = 0; kx < g->kw; kx++) {
                        const int32_t ix = ox * g->sw - g->pl + kx * g->dw;
                        float v;
                        if (ix < 0 || ix >= g->w) {
                            continue;
                        }
                        v = xc[iy * g->w + ix];
                        if (v > best || v != v) {
                            best = v;
                        }
                    }
                }
                *y++ = best;
            }
        }
    }
}
