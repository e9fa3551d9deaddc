/*
 * lr_conv_transpose2d_f32_ref.c -- CONV_TRANSPOSE2D as torch's conv_transpose2d, dense weights
 * [c][cout_g][kh][kw] (fp32 or fp16, read in place), optional bias [oc].
 *
 * Input pixel (iy, ix) of input channel i adds w[i][o % cout_g][ky][kx] * x[i][iy][ix] to output pixel
 * (iy * sh - pt + ky * dh, ix * sw - pl + kx * dw) of every output channel o of its group; taps that
 * land outside [0, oh) x [0, ow) are dropped (torch's padding crops the full result; output_padding
 * adds rows and columns that only the bias reaches). Computed per output channel: the plane starts at
 * the bias, then for each input channel and tap, a scatter over the input rows and columns whose target
 * lies inside (the index ranges of lr_range_lo / lr_range_hi, with the roles of input and output
 * swapped). No scratch.
 */
#include "kernels/lr_kernels.h"

void lr_conv_transpose2d_f32_ref(const lr_geom *g, const float *x, const lr_dense_params *p, float *y)
{
    const int32_t plane_in = g->h * g->w, plane_out = g->oh * g->ow, kk = g->kh * g->kw;
    int32_t o, i, ky, kx, iy, ix, j;
    for (o = 0; o < g->oc; o++) {
        const int32_t grp = o / g->cout_g, oo = o % g->cout_g;
        const float b = p->bias.p != NULL ? lr_value(p->bias, (uint32_t)o) : 0.0f;
        float *yo = y + o * plane_out;
        for (j = 0; j < plane_out; j++) {
            yo[j] = b;
        }
        for (i = grp * g->cin_g; i < (grp + 1) * g->cin_g; i++) {
            const float *xi = x + i * plane_in;
            const uint32_t wbase = (uint32_t)((i * g->cout_g + oo) * kk);
            for (ky = 0; ky < g->kh; ky++) {
                const int32_t offy = ky * g->dh - g->pt;
                const int32_t y0 = lr_range_lo(offy, g->sh), y1 = lr_range_hi(offy, g->sh, g->oh, g->h);
                for (kx = 0; kx < g->kw; kx++) {
                    const int32_t offx = kx * g->dw - g->pl;
                    const int32_t x0 = lr_range_lo(offx, g->sw), x1 = lr_range_hi(offx, g->sw, g->ow, g->w);
                    const float wv = lr_value(p->w, wbase + (uint32_t)(ky * g->kw + kx));
                    for (iy = y0; iy < y1; iy++) {
                        const float *xr = xi + iy * g->w;
                        float *yr = yo + (iy * g->sh + offy) * g->ow;
                        for (ix = x0; ix < x1; ix++) {
                            yr[ix * g->sw + offx] += wv * xr[ix];
                        }
                    }
                }
            }
        }
    }
}
