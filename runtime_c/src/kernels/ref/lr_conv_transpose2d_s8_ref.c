/*
 * lr_conv_transpose2d_s8_ref.c -- CONV_TRANSPOSE2D of an int8 model with dense int8 weights
 * [c][cout_g][kh][kw] (zero point 0, one scale per output channel), TFLite's int8 TRANSPOSE_CONV per
 * channel in torch's geometry (docs/INTEGER.md section 2): input pixel (iy, ix) of input channel i adds
 * w[i][o % cout_g][ky][kx] * (x + in_offset) to the int32 accumulator of output pixel
 * (iy * sh - pt + ky * dh, ix * sw - pl + kx * dw) of each output channel o of its group (taps outside the
 * output are dropped), then acc + bias[o] is requantised with channel o's multiplier. Per output channel:
 * the accumulator plane (oh * ow int32 words of scratch) starts at the bias and takes the scatter of
 * lr_conv_transpose2d_f32_ref. The verifier bounds |bias| + 255 * sum |w| of each output channel below 2^31.
 */
#include "kernels/lr_kernels.h"

void lr_conv_transpose2d_s8_ref(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int32_t *scratch,
                                int8_t *y)
{
    const int32_t plane_in = g->h * g->w, plane_out = g->oh * g->ow, kk = g->kh * g->kw;
    int32_t o, i, ky, kx, iy, ix, j;
    for (o = 0; o < g->oc; o++) {
        const int32_t grp = o / g->cout_g, oo = o % g->cout_g;
        const int32_t b = p->bias != NULL ? lr_lei32(p->bias + 4u * (uint32_t)o) : 0;
        const int32_t mult = lr_rq_mult(&p->rq, (uint32_t)o), shift = lr_rq_shift(&p->rq, (uint32_t)o);
        int8_t *yo = y + (size_t)o * (size_t)plane_out;
        for (j = 0; j < plane_out; j++) {
            scratch[j] = b;
        }
        for (i = grp * g->cin_g; i < (grp + 1) * g->cin_g; i++) {
            const int8_t *xi = x + (size_t)i * (size_t)plane_in;
            const unsigned char *wi = p->w + (size_t)(i * g->cout_g + oo) * (size_t)kk;
            for (ky = 0; ky < g->kh; ky++) {
                const int32_t offy = ky * g->dh - g->pt;
                const int32_t y0 = lr_range_lo(offy, g->sh), y1 = lr_range_hi(offy, g->sh, g->oh, g->h);
                for (kx = 0; kx < g->kw; kx++) {
                    const int32_t offx = kx * g->dw - g->pl;
                    const int32_t x0 = lr_range_lo(offx, g->sw), x1 = lr_range_hi(offx, g->sw, g->ow, g->w);
                    const int32_t wv = lr_s8(wi[ky * g->kw + kx]);
                    if (wv == 0) {
                        continue;
                    }
                    for (iy = y0; iy < y1; iy++) {
                        const int8_t *xr = xi + iy * g->w;
                        int32_t *ar = scratch + (iy * g->sh + offy) * g->ow;
                        for (ix = x0; ix < x1; ix++) {
                            ar[ix * g->sw + offx] += wv * ((int32_t)xr[ix] + p->in_offset);
                        }
                    }
                }
            }
        }
        for (j = 0; j < plane_out; j++) {
            yo[j] = lr_requant(scratch[j], mult, shift, p->rq.zp_out, p->rq.act_min, p->rq.act_max);
        }
    }
}
