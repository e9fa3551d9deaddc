/*
 * lr_pad_f32_ref.c -- PAD: constant padding of [c][h][w] by g->pt rows on top, g->pb at the bottom,
 * g->pl columns on the left and g->pr on the right (all >= 0): the output [c][oh][ow] with
 * oh = h + pt + pb, ow = w + pl + pr holds `value` outside the copied input.
 */
#include "kernels/lr_kernels.h"

void lr_pad_f32_ref(const lr_geom *g, float value, const float *x, float *y)
{
    int32_t ch, r, j;
    for (ch = 0; ch < g->c; ch++) {
        const float *xc = x + ch * g->h * g->w;
        float *yc = y + ch * g->oh * g->ow;
        for (r = 0; r < g->oh; r++) {
            float *row = yc + r * g->ow;
            const int32_t iy = r - g->pt;
            if (iy < 0 || iy >= g->h) {
                for (j = 0; j < g->ow; j++) {
                    row[j] = value;
                }
                continue;
            }
            for (j = 0; j < g->pl; j++) {
                row[j] = value;
            }
            memcpy(row + g->pl, xc + iy * g->w, (size_t)g->w * sizeof(float));
            for (j = g->pl + g->w; j < g->ow; j++) {
                row[j] = value;
            }
        }
    }
}
