/*
 * lr_linrep_conv2d_direct_s8_ref.c -- LINREP_CONV2D of an int8 model, direct path (docs/INTEGER.md
 * section 3): per output channel o, its kernels rebuilt as int32 in scratch,
 *     W[i][k] = a_q * t_q[idx][k] * 2^max(0, -e[o]) + b_q * 2^max(0, e[o])    (pruned kernels: 0),
 * then exactly the dense int8 conv: acc = bias[o] + sum W * (x + in_offset) over in-bounds taps,
 * requantised. The verifier bounded |bias| + 255 * sum |W| below 2^31, so W and every partial sum fit.
 */
#include "kernels/lr_kernels.h"

void lr_linrep_conv2d_direct_s8_ref(const lr_geom *g, const int8_t *x, const lr_linrep_s8_params *p,
                                    int32_t *scratch, int8_t *y)
{
    const int32_t kk = g->kh * g->kw;
    const unsigned char *mask = p->lr.mask ? p->blob + p->lr.mask : NULL;
    uint32_t kept = 0u; /* kernels kept so far: the position of the next one's index and a/b */
    int32_t o, oy, ox, i, ky, kx, k;
    for (o = 0; o < g->oc; o++) {
        const int32_t grp = o / g->cout_g;
        const int32_t e = lr_s8(p->bexp[o]);
        const int64_t pa = (int64_t)1 << (e < 0 ? -e : 0), pb = (int64_t)1 << (e > 0 ? e : 0);
        const int32_t bias = p->bias ? lr_lei32(p->bias + 4u * (uint32_t)o) : 0;
        const int32_t mult = lr_rq_mult(&p->rq, (uint32_t)o), shift = lr_rq_shift(&p->rq, (uint32_t)o);
        for (i = 0; i < g->cin_g; i++) {
            int32_t *w = scratch + i * kk;
            if (!lr_kept(mask, (uint32_t)(o * g->cin_g + i))) {
                for (k = 0; k < kk; k++) {
                    w[k] = 0;
                }
                continue;
            }
            {
                const unsigned char *t = p->tmpl + (size_t)kk * lr_unpack_index(p->blob + p->lr.idx, kept, p->lr.bits);
                const int64_t a = lr_unpack_signed(p->blob + p->lr.abq, 2u * kept, p->lr.ab_bits) * pa;
                const int64_t b = lr_unpack_signed(p->blob + p->lr.abq, 2u * kept + 1u, p->lr.ab_bits) * pb;
                for (k = 0; k < kk; k++) {
                    w[k] = (int32_t)(a * lr_s8(t[k]) + b);
                }
            }
            kept++;
        }
        for (oy = 0; oy < g->oh; oy++) {
            for (ox = 0; ox < g->ow; ox++) {
                int32_t acc = bias;
                for (i = 0; i < g->cin_g; i++) {
                    const int8_t *xc = x + (size_t)(grp * g->cin_g + i) * (size_t)(g->h * g->w);
                    const int32_t *w = scratch + i * kk;
                    for (ky = 0; ky < g->kh; ky++) {
                        const int32_t iy = oy * g->sh - g->pt + ky * g->dh;
                        if (iy < 0 || iy >= g->h) {
                            continue;
                        }
                        for (kx = 0; kx < g->kw; kx++) {
                            const int32_t ix = ox * g->sw - g->pl + kx * g->dw;
                            if (ix >= 0 && ix < g->w) {
                                acc += w[ky * g->kw + kx] * ((int32_t)xc[iy * g->w + ix] + p->in_offset);
                            }
                        }
                    }
                }
                y[(o * g->oh + oy) * g->ow + ox] = lr_requant(acc, mult, shift, p->rq.zp_out, p->rq.act_min,
                                                              p->rq.act_max);
            }
        }
    }
}
