/*
 * lr_avg_pool2d_f32_ref.c -- AVG_POOL2D on [C, H, W] as torch.nn.functional.avg_pool2d (floor mode,
 * fp32 sums in row-major window order): the window is clipped to the padded input (top/left pads
 * before, bottom/right pads after); divisor = that clipped window's size if count_include_pad, else
 * the number of real input values in it.
 */
#include "kernels/lr_kernels.h"

static int32_t min32(int32_t a, int32_t b)
{
    return a < b ? a : b;
}

static int32_t max32(int32_t a, int32_t b)
{
    return a > b ? a : b;
}

void lr_avg_pool2d_f32_ref(const lr_geom *g, int count_include_pad, const float *x, float *y)
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
