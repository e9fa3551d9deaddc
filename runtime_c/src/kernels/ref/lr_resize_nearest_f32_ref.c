/*
 * lr_resize_nearest_f32_ref.c -- RESIZE mode 0 (nearest, integer factors): [c][h][w] -> [c][oh][ow] with
 * oh = h * fh, ow = w * fw (verified); output (r, j) takes input (r / fh, j / fw), as torch's
 * F.interpolate(mode="nearest") with an integer scale_factor (or the output size). With `any` (mode 3, format
 * version 8) any output size: the source indices of lr_nearest_src, torch's formula for a `size=`.
 */
#include "kernels/lr_kernels.h"

void lr_resize_nearest_f32_ref(const lr_geom *g, int any, const float *x, float *y)
{
    lr_nearest_axis rows, cols;
    int32_t ch, r, j;
    lr_nearest_axis_init(&rows, g->h, g->oh, any);
    lr_nearest_axis_init(&cols, g->w, g->ow, any);
    for (ch = 0; ch < g->c; ch++) {
        const float *xc = x + ch * g->h * g->w;
        for (r = 0; r < g->oh; r++) {
            const float *xr = xc + lr_nearest_src(&rows, r) * g->w;
            float *yr = y + (ch * g->oh + r) * g->ow;
            for (j = 0; j < g->ow; j++) {
                yr[j] = xr[lr_nearest_src(&cols, j)];
            }
        }
    }
}
