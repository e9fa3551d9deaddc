/*
 * lr_resize_nearest_f32_ref.c -- RESIZE mode 0 (nearest, integer factors): [c][h][w] -> [c][oh][ow] with
 * oh = h * fh, ow = w * fw (verified); output (r, j) takes input (r / fh, j / fw), as torch's
 * F.interpolate(mode="nearest") with an integer scale_factor (or the output size).
 */
#include "kernels/lr_kernels.h"

void lr_resize_nearest_f32_ref(const lr_geom *g, const float *x, float *y)
{
    const int32_t fh = g->oh / g->h, fw = g->ow / g->w;
    int32_t ch, r, j;
    for (ch = 0; ch < g->c; ch++) {
        const float *xc = x + ch * g->h * g->w;
        for (r = 0; r < g->oh; r++) {
            const float *xr = xc + (r / fh) * g->w;
            float *yr = y + (ch * g->oh + r) * g->ow;
            for (j = 0; j < g->ow; j++) {
                yr[j] = xr[j / fw];
            }
        }
    }
}
