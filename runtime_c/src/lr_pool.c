/*
 * lr_pool.c -- reference kernels for MAX_POOL2D, AVG_POOL2D and ADAPTIVE_AVG_POOL2D on [C, H, W],
 * following torch's CPU kernels (floor mode, fp32 sums in row-major window order).
 */
#include <math.h>

#include "lr_internal.h"

/* torch.nn.functional.max_pool2d: padding counts as -inf; a NaN in the window wins. */
void lr_max_pool2d(const lr_geom *g, const float *x, float *y)
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

static int32_t min32(int32_t a, int32_t b)
{
    return a < b ? a : b;
}

static int32_t max32(int32_t a, int32_t b)
{
    return a > b ? a : b;
}

/*
 * torch.nn.functional.avg_pool2d: the window is clipped to the padded input (top/left pads before,
 * bottom/right pads after); divisor = that clipped window's size if count_include_pad, else the
 * number of real input values in it.
 */
void lr_avg_pool2d(const lr_geom *g, int count_include_pad, const float *x, float *y)
{
    int32_t c, oy, ox, iy, ix;
    for (c = 0; c < g->c; c++) {
        const float *xc = x + c * g->h * g->w;
        for (oy = 0; oy < g->oh; oy++) {
            for (ox = 0; ox < g->ow; ox++) {
                int32_t y0 = oy * g->sh - g->pt, x0 = ox * g->sw - g->pl;
                int32_t y1 = min32(y0 + g->kh, g->h + g->pb), x1 = min32(x0 + g->kw, g->w + g->pr);
                const int32_t pool = (y1 - y0) * (x1 - x0);
                float sum = 0.0f;
                y0 = max32(y0, 0);
                x0 = max32(x0, 0);
                y1 = min32(y1, g->h);
                x1 = min32(x1, g->w);
                if (y0 >= y1 || x0 >= x1) {
                    *y++ = 0.0f;
                    continue;
                }
                for (iy = y0; iy < y1; iy++) {
                    for (ix = x0; ix < x1; ix++) {
                        sum += xc[iy * g->w + ix];
                    }
                }
                *y++ = sum / (float)(count_include_pad ? pool : (y1 - y0) * (x1 - x0));
            }
        }
    }
}

/*
 * torch.nn.functional.adaptive_avg_pool2d to [oh, ow]: output (i, j) averages input rows
 * floor(i*H/oh) .. ceil((i+1)*H/oh) - 1 and the columns likewise. (i*H fits 32 bits: verified.)
 */
void lr_adaptive_avg_pool2d(const lr_geom *g, const float *x, float *y)
{
    int32_t c, oy, ox, iy, ix;
    for (c = 0; c < g->c; c++) {
        const float *xc = x + c * g->h * g->w;
        for (oy = 0; oy < g->oh; oy++) {
            const int32_t y0 = (oy * g->h) / g->oh;
            const int32_t y1 = ((oy + 1) * g->h + g->oh - 1) / g->oh;
            for (ox = 0; ox < g->ow; ox++) {
                const int32_t x0 = (ox * g->w) / g->ow;
                const int32_t x1 = ((ox + 1) * g->w + g->ow - 1) / g->ow;
                float sum = 0.0f;
                for (iy = y0; iy < y1; iy++) {
                    for (ix = x0; ix < x1; ix++) {
                        sum += xc[iy * g->w + ix];
                    }
                }
                *y++ = sum / (float)(y1 - y0) / (float)(x1 - x0);
            }
        }
    }
}
