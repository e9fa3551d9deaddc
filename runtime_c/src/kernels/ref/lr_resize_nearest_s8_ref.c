/*
 * lr_resize_nearest_s8_ref.c -- RESIZE mode 0 (nearest, integer factors) and (format version 8) mode 3 (any
 * size) of an int8 model: bytes moved as lr_resize_nearest_f32_ref moves floats (lr_nearest_src), TFLite's
 * RESIZE_NEAREST_NEIGHBOR with align_corners and half_pixel_centers false (torch's "nearest"). In and out
 * quantised alike (verified).
 */
#include "kernels/lr_kernels.h"

void lr_resize_nearest_s8_ref(const lr_geom *g, int any, const int8_t *x, int8_t *y)
{
    lr_nearest_axis rows, cols;
    int32_t ch, r, j;
    lr_nearest_axis_init(&rows, g->h, g->oh, any);
    lr_nearest_axis_init(&cols, g->w, g->ow, any);
    for (ch = 0; ch < g->c; ch++) {
        const int8_t *xc = x + (size_t)ch * (size_t)(g->h * g->w);
        for (r = 0; r < g->oh; r++) {
            const int8_t *xr = xc + lr_nearest_src(&rows, r) * g->w;
            int8_t *yr = y + ((size_t)ch * (size_t)g->oh + (size_t)r) * (size_t)g->ow;
            for (j = 0; j < g->ow; j++) {
                yr[j] = xr[lr_nearest_src(&cols, j)];
            }
        }
    }
}
