/*
 * lr_resize_bilinear_s8_ref.c -- RESIZE modes 1 and 2 (bilinear) of an int8 model: TFLite's integer
 * ResizeBilinearInteger (docs/INTEGER.md section 2). Mode 1 is half_pixel_centers (torch's
 * align_corners=False), mode 2 align_corners. Along each axis (in -> out), with 10 fractional bits:
 *   scale = (1024 * in + out / 2) / out, or with align_corners and out > 1 (1024 * (in - 1) + (out - 1) / 2) / (out - 1)
 *   p = d * scale + scale / 2 - 512 (half pixel) or d * scale; i0 = max(p / 1024, 0), i1 = min((p + 1023) / 1024, in - 1)
 * (C division), and the output is (sum of x[i][j] * wy * wx + 2^19 * sign) / 2^20 with wy = 1024 - (py - 1024 * i0)
 * at i0 and py - 1024 * i0 at i1 (x likewise); the sum fits int32 (see below). In and out quantised alike
 * (verified).
 */
#include "kernels/lr_kernels.h"

typedef struct axis_s8 {
    int32_t pos, i0, i1;
} axis_s8;

int32_t lr_resize_bilinear_s8_scale(int32_t in, int32_t out, int align_corners)
{
    if (align_corners && out > 1) {
        return (1024 * (in - 1) + (out - 1) / 2) / (out - 1);
    }
    return (1024 * in + out / 2) / out;
}

static axis_s8 axis_at(int32_t d, int32_t in, int32_t scale, int align_corners)
{
    axis_s8 t;
    t.pos = align_corners ? d * scale : d * scale + scale / 2 - 512;
    t.i0 = t.pos / 1024;
    t.i0 = t.i0 > 0 ? t.i0 : 0;
    t.i1 = (t.pos + 1023) / 1024;
    t.i1 = t.i1 < in - 1 ? t.i1 : in - 1;
    return t;
}

void lr_resize_bilinear_s8_ref(const lr_geom *g, int align_corners, const int8_t *x, int8_t *y)
{
    const int32_t sh = lr_resize_bilinear_s8_scale(g->h, g->oh, align_corners), sw = lr_resize_bilinear_s8_scale(g->w, g->ow, align_corners);
    int32_t ch, r, j;
    for (ch = 0; ch < g->c; ch++) {
        const int8_t *xc = x + (size_t)ch * (size_t)(g->h * g->w);
        for (r = 0; r < g->oh; r++) {
            const axis_s8 ty = axis_at(r, g->h, sh, align_corners);
            const int32_t fy = ty.pos - 1024 * ty.i0; /* in [-512, 1024) */
            const int8_t *x0 = xc + ty.i0 * g->w, *x1 = xc + ty.i1 * g->w;
            int8_t *yr = y + ((size_t)ch * (size_t)g->oh + (size_t)r) * (size_t)g->ow;
            for (j = 0; j < g->ow; j++) {
                const axis_s8 tx = axis_at(j, g->w, sw, align_corners);
                const int32_t fx = tx.pos - 1024 * tx.i0;
                /* TFLite sums in int64; here |sum| <= 128 * (|1024 - fy| + |fy|) * (|1024 - fx| + |fx|)
                 * <= 128 * 1536^2 < 2^31, so int32 gives the same integers (no 64-bit arithmetic on M0/M3) */
                const int32_t total = x0[tx.i0] * (1024 - fy) * (1024 - fx) + x1[tx.i0] * fy * (1024 - fx) +
                                      x0[tx.i1] * (1024 - fy) * fx + x1[tx.i1] * fy * fx;
                const int32_t num = total > 0 ? total + (1 << 19) : total - (1 << 19);
                yr[j] = (int8_t)(num >= 0 ? num >> 20 : -((-num) >> 20)); /* C's truncating division by 2^20 */
            }
        }
    }
}

int lr_resize_bilinear_s8_axis_ok(int32_t in, int32_t out, int align_corners)
{
    const int32_t scale = lr_resize_bilinear_s8_scale(in, out, align_corners);
    return axis_at(out - 1, in, scale, align_corners).i0 <= in - 1; /* the position grows with d */
}
