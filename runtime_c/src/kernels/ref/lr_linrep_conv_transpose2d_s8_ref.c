/*
 * lr_linrep_conv_transpose2d_s8_ref.c -- a LinRep CONV_TRANSPOSE2D of an int8 model, direct path (docs/INTEGER.md
 * section 3). The kernel grid is (c, cout_g), kernel n = i * cout_g + (o mod cout_g) row-major (with a kernel mask
 * only kept kernels have an index and a/b, in that order). Per output channel o: its int32 accumulator plane
 * (scratch, oh * ow words) starts at bias[o]; for each input channel i of its group the kernel's integers
 *     W[k] = a_q * t_q[idx][k] * 2^max(0, -e[o]) + b_q * 2^max(0, e[o])      (kh * kw words of scratch after the plane)
 * are scattered as in lr_conv_transpose2d_s8_ref; then requantised. A kept kernel's position among the kept ones is
 * counted along the grid (mask bits between consecutive kernels of the column). The verifier bounded |bias| + 255 *
 * sum |W| of each output channel below 2^31, so W and every partial sum fit int32.
 */
#include "kernels/lr_kernels.h"

void lr_linrep_conv_transpose2d_s8_ref(const lr_geom *g, const int8_t *x, const lr_linrep_s8_params *p,
                                       int32_t *scratch, int8_t *y)
{
    const int32_t plane_in = g->h * g->w, plane_out = g->oh * g->ow, kk = g->kh * g->kw;
    const unsigned char *mask = p->lr.mask ? p->blob + p->lr.mask : NULL;
    int32_t *w = scratch + plane_out;
    int32_t o, i, ky, kx, iy, ix, j, k;
    for (o = 0; o < g->oc; o++) {
        const int32_t grp = o / g->cout_g, oo = o % g->cout_g, e = lr_s8(p->bexp[o]);
        const int64_t pa = (int64_t)1 << (e < 0 ? -e : 0), pb = (int64_t)1 << (e > 0 ? e : 0);
        const int32_t mult = lr_rq_mult(&p->rq, (uint32_t)o), shift = lr_rq_shift(&p->rq, (uint32_t)o);
        const int32_t b0 = p->bias != NULL ? lr_lei32(p->bias + 4u * (uint32_t)o) : 0;
        uint32_t n = 0u, kept = 0u; /* kept: kernels kept before grid position n */
        int8_t *yo = y + (size_t)o * (size_t)plane_out;
        for (j = 0; j < plane_out; j++) {
            scratch[j] = b0;
        }
        for (i = grp * g->cin_g; i < (grp + 1) * g->cin_g; i++) {
            const uint32_t target = (uint32_t)(i * g->cout_g + oo);
            const int8_t *xi = x + (size_t)i * (size_t)plane_in;
            const unsigned char *t;
            int64_t a, b;
            for (; n < target; n++) {
                kept += (uint32_t)lr_kept(mask, n);
            }
            if (!lr_kept(mask, target)) {
                continue;
            }
            t = p->tmpl + (size_t)kk * lr_unpack_index(p->blob + p->lr.idx, kept, p->lr.bits);
            a = lr_unpack_signed(p->blob + p->lr.abq, 2u * kept, p->lr.ab_bits) * pa;
            b = lr_unpack_signed(p->blob + p->lr.abq, 2u * kept + 1u, p->lr.ab_bits) * pb;
            for (k = 0; k < kk; k++) {
                w[k] = (int32_t)(a * lr_s8(t[k]) + b);
            }
            for (ky = 0; ky < g->kh; ky++) {
                const int32_t offy = ky * g->dh - g->pt;
                const int32_t y0 = lr_range_lo(offy, g->sh), y1 = lr_range_hi(offy, g->sh, g->oh, g->h);
                for (kx = 0; kx < g->kw; kx++) {
                    const int32_t offx = kx * g->dw - g->pl;
                    const int32_t x0 = lr_range_lo(offx, g->sw), x1 = lr_range_hi(offx, g->sw, g->ow, g->w);
                    const int32_t wv = w[ky * g->kw + kx];
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
