/*
 * lr_pad_s8_ref.c -- PAD of an int8 model: constant padding with `value` (the zero point: real 0) by
 * g->pt, pl, pb, pr of [c][h][w] into [c][oh][ow].
 */
#include "kernels/lr_kernels.h"

void lr_pad_s8_ref(const lr_geom *g, int8_t value, const int8_t *x, int8_t *y)
{
    int32_t ch, r;
    for (ch = 0; ch < g->c; ch++) {
        const int8_t *xc = x + (size_t)ch * (size_t)(g->h * g->w);
        int8_t *yc = y + (size_t)ch * (size_t)(g->oh * g->ow);
        for (r = 0; r < g->oh; r++) {
            int8_t *row = yc + r * g->ow;
            const int32_t iy = r - g->pt;
            memset(row, value, (size_t)g->ow);
            if (iy >= 0 && iy < g->h) {
                memcpy(row + g->pl, xc + iy * g->w, (size_t)g->w);
            }
        }
    }
}
