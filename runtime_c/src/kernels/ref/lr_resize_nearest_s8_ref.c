/*
 * lr_resize_nearest_s8_ref.c -- RESIZE mode 0 (nearest, integer factors) of an int8 model: bytes moved as
 * lr_resize_nearest_f32_ref moves floats; output (r, j) takes input (r / fh, j / fw), TFLite's
 * RESIZE_NEAREST_NEIGHBOR with align_corners and half_pixel_centers false (torch's "nearest"). In and out
 * quantised alike (verified).
 */
#include "kernels/lr_kernels.h"

void lr_resize_nearest_s8_ref(const lr_geom *g, const int8_t *x, int8_t *y)
{
    const int32_t fh = g->oh / g->h, fw = g->ow / g->w;
    int32_t ch, r, j;
    for (ch = 0; ch < g->c; ch++) {
        const int8_t *xc = x + (size_t)ch * (size_t)(g->h * g->w);
        for (r = 0; r < g->oh; r++) {
            const int8_t *xr = xc + (r / fh) * g->w;
            int8_t *yr = y + ((size_t)ch * (size_t)g->oh + (size_t)r) * (size_t)g->ow;
            for (j = 0; j < g->ow; j++) {
                yr[j] = xr[j / fw];
            }
        }
    }
}
