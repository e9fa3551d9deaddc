/*
 * lr_linrep_conv_transpose2d_f32_ref.c -- CONV_TRANSPOSE2D with LinRep weights: torch's conv_transpose2d
 * whose kernels over the grid (c, cout_g) are a * T[idx] + b (kernel n = i * cout_g + oo, row-major).
 *
 * The codebook is decoded once per op to fp32 at the scratch head (k * kh * kw floats), then, one input
 * channel i at a time, its cout_g kernels are rebuilt after it (never the layer's whole weight):
 *     kernel[oo][t] = a[i][oo] * T[idx[i][oo]][t] + b[i][oo]      (fp32, multiply then add)
 * with a, b decoded from fp16, or from ab_bits-bit integers times the row's (input channel's) scales.
 * Every output plane starts at its bias; input channel i then scatters into the cout_g output channels of
 * its group exactly as lr_conv_transpose2d_f32_ref does (the same index ranges, and per output element
 * the same order of additions: input channel, then tap), so the result equals the dense kernel's on the
 * rebuilt weights. Pruned kernels (kernel mask) have no index, a or b and add nothing.
 */
#include "kernels/lr_kernels.h"

void lr_linrep_conv_transpose2d_f32_ref(const lr_geom *g, const float *x, const lr_linrep_params *p,
                                        float *scratch, float *y)
{
    const unsigned char *const blob = p->blob;
    const lr_linrep *lr = &p->lr;
    const uint32_t kk = (uint32_t)(g->kh * g->kw);
    const uint32_t n_tmpl = p->k * kk;
    const int32_t plane_in = g->h * g->w, plane_out = g->oh * g->ow;
    const unsigned char *mask = lr->mask != 0u ? blob + lr->mask : NULL;
    float *kernels = scratch + n_tmpl; /* one input channel's cout_g kernels, after the codebook */
    uint32_t kept = 0u;                /* kept kernels so far (their index in idx, a, b) */
    uint32_t t;
    int32_t o, i, oo, ky, kx, iy, ix, j;

    for (t = 0; t < n_tmpl; t++) {
        scratch[t] = lr_value(p->tmpl, t); /* fp16 or fp32 in the blob -> fp32, once per op */
    }
    for (o = 0; o < g->oc; o++) {
        const float b = p->bias.p != NULL ? lr_value(p->bias, (uint32_t)o) : 0.0f;
        float *yo = y + o * plane_out;
        for (j = 0; j < plane_out; j++) {
            yo[j] = b;
        }
    }
    for (i = 0; i < g->c; i++) {
        const float *xi = x + i * plane_in;
        const int32_t grp = i / g->cin_g;
        for (oo = 0; oo < g->cout_g; oo++) { /* rebuild the row */
            const uint32_t n = (uint32_t)i * (uint32_t)g->cout_g + (uint32_t)oo;
            float *dst = kernels + (uint32_t)oo * kk;
            const float *tmpl;
            float a, bb;
            if (!lr_kept(mask, n)) {
                continue;
            }
            tmpl = scratch + lr_unpack_index(blob + lr->idx, kept, lr->bits) * kk;
            lr_linrep_ab(blob, lr, kept, (uint32_t)i, &a, &bb);
            kept++;
            for (t = 0; t < kk; t++) {
                dst[t] = a * tmpl[t] + bb;
            }
        }
        for (oo = 0; oo < g->cout_g; oo++) { /* scatter: the loops of lr_conv_transpose2d_f32_ref */
            const float *w = kernels + (uint32_t)oo * kk;
            float *yo = y + (grp * g->cout_g + oo) * plane_out;
            if (!lr_kept(mask, (uint32_t)i * (uint32_t)g->cout_g + (uint32_t)oo)) {
                continue;
            }
            for (ky = 0; ky < g->kh; ky++) {
                const int32_t offy = ky * g->dh - g->pt;
                const int32_t y0 = lr_range_lo(offy, g->sh), y1 = lr_range_hi(offy, g->sh, g->oh, g->h);
                for (kx = 0; kx < g->kw; kx++) {
                    const int32_t offx = kx * g->dw - g->pl;
                    const int32_t x0 = lr_range_lo(offx, g->sw), x1 = lr_range_hi(offx, g->sw, g->ow, g->w);
                    const float wv = w[ky * g->kw + kx];
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
