/*
 * lr_resize_bilinear_f32_ref.c -- RESIZE modes 1 and 2 (bilinear): [c][h][w] -> [c][oh][ow], as torch's
 * F.interpolate(mode="bilinear", size=(oh, ow), align_corners=...), in fp32 like its CPU kernel.
 *
 * Along each axis (in -> out), output index d reads the source position
 *   align_corners = 0:  s = max(scale * (d + 0.5) - 0.5, 0), scale = in / out
 *   align_corners = 1:  s = scale * d,                       scale = (in - 1) / (out - 1) (0 if out == 1)
 * i0 = min(floor(s), in - 1), i1 = min(i0 + 1, in - 1), l = clamp(s - i0, 0, 1); the output is
 * (x[i0][j0] * (1 - lw) + x[i0][j1] * lw) * (1 - lh) + (x[i1][j0] * (1 - lw) + x[i1][j1] * lw) * lh.
 */
#include "kernels/lr_kernels.h"

typedef struct axis_tap {
    int32_t i0, i1;
    float l0, l1;
} axis_tap;

static float axis_scale(int32_t in, int32_t out, int align_corners)
{
    if (align_corners) {
        return out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    }
    return (float)in / (float)out;
}

static axis_tap axis_at(int32_t d, int32_t in, float scale, int align_corners)
{
    axis_tap t;
    float s = align_corners ? scale * (float)d : scale * ((float)d + 0.5f) - 0.5f;
    float l;
    if (s < 0.0f) {
        s = 0.0f;
    }
    t.i0 = (int32_t)s; /* s >= 0: truncation is floor */
    if (t.i0 > in - 1) {
        t.i0 = in - 1;
    }
    t.i1 = t.i0 < in - 1 ? t.i0 + 1 : t.i0;
    l = s - (float)t.i0;
    l = l < 0.0f ? 0.0f : (l > 1.0f ? 1.0f : l);
    t.l1 = l;
    t.l0 = 1.0f - l;
    return t;
}

void lr_resize_bilinear_f32_ref(const lr_geom *g, int align_corners, const float *x, float *y)
{
    const float sh = axis_scale(g->h, g->oh, align_corners), sw = axis_scale(g->w, g->ow, align_corners);
    int32_t ch, r, j;
    for (ch = 0; ch < g->c; ch++) {
        const float *xc = x + ch * g->h * g->w;
        for (r = 0; r < g->oh; r++) {
            const axis_tap th = axis_at(r, g->h, sh, align_corners);
            const float *x0 = xc + th.i0 * g->w, *x1 = xc + th.i1 * g->w;
            float *yr = y + (ch * g->oh + r) * g->ow;
            for (j = 0; j < g->ow; j++) {
                const axis_tap tw = axis_at(j, g->w, sw, align_corners);
                const float top = x0[tw.i0] * tw.l0 + x0[tw.i1] * tw.l1;
                const float bot = x1[tw.i0] * tw.l0 + x1[tw.i1] * tw.l1;
                yr[j] = top * th.l0 + bot * th.l1;
            }
        }
    }
}
