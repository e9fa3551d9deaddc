/*
 * lr_resize_bilinear_s8_opt.c -- RESIZE modes 1 and 2 (bilinear) of an int8 model, optimised (equal to
 * lr_resize_bilinear_s8_ref bit for bit).
 *
 * The reference recomputes both axes' positions per output value and sums four products of three factors (about 50
 * instructions per output on the Cortex-M4). Here the row's position is found once per output row and the column's
 * by adding the step (the positions are d * scale + offset: the same integers), and the sum is taken as
 *     v(i0) * (1024 - fx) + v(i1) * fx,   v(i) = x0[i] * (1024 - fy) + x1[i] * fy,
 * the reference's four products regrouped: |v| <= 128 * 1536 and |v| * 1536 < 2^31, so every partial sum is an
 * int32 and the total is the reference's integer; its rounding is the reference's, without a branch.
 */
#include "kernels/lr_opt_s8.h"

void lr_resize_bilinear_s8_opt(const lr_geom *g, int align_corners, const int8_t *x, int8_t *y)
{
    const int32_t sy = lr_resize_bilinear_s8_scale(g->h, g->oh, align_corners);
    const int32_t sx = lr_resize_bilinear_s8_scale(g->w, g->ow, align_corners);
    const int32_t start_y = align_corners ? 0 : sy / 2 - 512, start_x = align_corners ? 0 : sx / 2 - 512;
    const int32_t last = g->w - 1, ow = g->ow; /* locals: the stores through y cannot change them */
    int32_t ch, r, j;
    for (ch = 0; ch < g->c; ch++) {
        const int8_t *xc = x + (size_t)ch * (size_t)(g->h * g->w);
        int32_t py = start_y;
        for (r = 0; r < g->oh; r++, py += sy) {
            /* positions start above -1024 (-512 at most below 0) and grow: a shift is C's division here */
            const int32_t y0 = py > 0 ? py >> 10 : 0, y1u = (py + 1023) >> 10;
            const int32_t y1 = y1u < g->h - 1 ? y1u : g->h - 1;
            const int32_t fy = py - 1024 * y0, gy = 1024 - fy;
            const int8_t *x0 = xc + y0 * g->w, *x1 = xc + y1 * g->w;
            int8_t *yr = y + ((size_t)ch * (size_t)g->oh + (size_t)r) * (size_t)ow;
            int32_t px = start_x;
            for (j = 0; j < ow; j++, px += sx) {
                const int32_t i0 = (px & ~(px >> 31)) >> 10, i1u = (px + 1023) >> 10; /* max(px, 0) >> 10 */
                const int32_t i1 = i1u < last ? i1u : last;
                const int32_t fx = px - 1024 * i0;
                const int32_t v0 = (int32_t)x0[i0] * gy + (int32_t)x1[i0] * fy;
                const int32_t v1 = (int32_t)x0[i1] * gy + (int32_t)x1[i1] * fy;
                const int32_t total = v0 * (1024 - fx) + v1 * fx;
                /* the reference's rounding, half away from zero: floor((total + 2^19) / 2^20) above 0, and
                 * -floor((2^19 - total) / 2^20) = floor((total + 2^19 - 1) / 2^20) below (the same 0 at 0) */
                yr[j] = (int8_t)lr_opt_asr(total + (1 << 19) + lr_opt_asr(total, 31), 20);
            }
        }
    }
}
