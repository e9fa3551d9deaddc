/*
 * lr_adaptive_avg_pool2d_f32_ref.c -- ADAPTIVE_AVG_POOL2D on [C, H, W] to [C, oh, ow] as
 * torch.nn.functional.adaptive_avg_pool2d: output (i, j) averages input rows
 * floor(i*H/oh) .. ceil((i+1)*H/oh) - 1 and the columns likewise (fp32 sums in row-major order).
 * (i*H fits 32 bits: verified.)
 */
#include "kernels/lr_kernels.h"

void lr_adaptive_avg_pool2d_f32_ref(const lr_geom *g, const float *x, float *y)
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
