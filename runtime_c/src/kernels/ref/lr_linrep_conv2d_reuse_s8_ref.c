/*
 * lr_linrep_conv2d_reuse_s8_ref.c -- LINREP_CONV2D of an int8 model, template reuse (docs/INTEGER.md
 * section 3), one output row at a time. For input channel i and each template j its output channels
 * use, the response R(p) = sum_k t_q[j][k] * (x[i, p + k] + in_offset) is computed once and shared; the
 * box sum S(p) = sum_k (x[i, p + k] + in_offset) once per channel (taps in bounds only, as the direct
 * path). Output channel o adds a_q * 2^max(0, -e) * R + b_q * 2^max(0, e) * S: each such term is
 * sum_k W[o, i, k] * (x + in_offset), so it and every partial sum fit int32 (the verifier's bound);
 * the two products are formed in int64. The same exact integer acc as the direct path, hence the same
 * int8 output. With a kernel mask, pruned kernels add nothing; a kept kernel's index and a/b are at its
 * rank among the kept kernels: pos[o] holds it for kernel (o, i), starting at the rank of (o, 0).
 *
 * Scratch (int32 words): acc [cout_g][ow], R [ow], S [ow], done [cout_g], pos [cout_g], base [cout_g].
 */
#include "kernels/lr_kernels.h"

uint64_t lr_linrep_conv2d_reuse_s8_ref_scratch(const lr_geom *g, uint32_t k)
{
    return (uint64_t)g->cout_g * (uint64_t)g->ow + 2u * (uint64_t)g->ow + 4u * (uint64_t)g->cout_g + k;
}

/* One output row oy of input channel plane xc: R (tmpl != NULL) or S (tmpl == NULL). */
static void row_response(const lr_geom *g, const int8_t *xc, int32_t oy, const unsigned char *tmpl, int32_t in_offset,
                         int32_t *r)
{
    int32_t ox, ky, kx;
    for (ox = 0; ox < g->ow; ox++) {
        int32_t acc = 0;
        for (ky = 0; ky < g->kh; ky++) {
            const int32_t iy = oy * g->sh - g->pt + ky * g->dh;
            if (iy < 0 || iy >= g->h) {
                continue;
            }
            for (kx = 0; kx < g->kw; kx++) {
                const int32_t ix = ox * g->sw - g->pl + kx * g->dw;
                if (ix >= 0 && ix < g->w) {
                    const int32_t v = (int32_t)xc[iy * g->w + ix] + in_offset;
                    acc += tmpl ? lr_s8(tmpl[ky * g->kw + kx]) * v : v;
                }
            }
        }
        r[ox] = acc;
    }
}

void lr_linrep_conv2d_reuse_s8_ref(const lr_geom *g, const int8_t *x, const lr_linrep_s8_params *p,
                                   int32_t *scratch, int8_t *y)
{
    const int32_t kk = g->kh * g->kw;
    const unsigned char *mask = p->lr.mask ? p->blob + p->lr.mask : NULL;
    int32_t *acc = scratch, *r = acc + g->cout_g * g->ow, *s = r + g->ow, *done = s + g->ow;
    int32_t *pos = done + g->cout_g, *base = pos + g->cout_g;
    int32_t grp, oy, ox, i, o, o2;
    for (grp = 0; grp < g->groups; grp++) {
        uint32_t n, rank = 0u;
        for (n = 0u; n < (uint32_t)(grp * g->cout_g * g->cin_g); n++) {
            rank += (uint32_t)lr_kept(mask, n);
        }
        for (o = 0; o < g->cout_g; o++) { /* rank of kernel (o, 0) */
            base[o] = (int32_t)rank;
            for (i = 0; i < g->cin_g; i++) {
                rank += (uint32_t)lr_kept(mask, (uint32_t)((grp * g->cout_g + o) * g->cin_g + i));
            }
        }
        for (oy = 0; oy < g->oh; oy++) {
            for (o = 0; o < g->cout_g; o++) {
                const int32_t bias = p->bias ? lr_lei32(p->bias + 4u * (uint32_t)(grp * g->cout_g + o)) : 0;
                for (ox = 0; ox < g->ow; ox++) {
                    acc[o * g->ow + ox] = bias;
                }
                pos[o] = base[o];
            }
            for (i = 0; i < g->cin_g; i++) {
                const int8_t *xc = x + (size_t)(grp * g->cin_g + i) * (size_t)(g->h * g->w);
                row_response(g, xc, oy, NULL, p->in_offset, s);
                for (o = 0; o < g->cout_g; o++) {
                    done[o] = !lr_kept(mask, (uint32_t)((grp * g->cout_g + o) * g->cin_g + i));
                }
                for (o = 0; o < g->cout_g; o++) {
                    uint32_t j;
                    if (done[o]) {
                        continue;
                    }
                    j = lr_unpack_index(p->blob + p->lr.idx, (uint32_t)pos[o], p->lr.bits);
                    row_response(g, xc, oy, p->tmpl + (size_t)kk * j, p->in_offset, r);
                    for (o2 = o; o2 < g->cout_g; o2++) { /* every output channel that uses template j here */
                        const int32_t oc = grp * g->cout_g + o2;
                        const uint32_t q = (uint32_t)pos[o2];
                        int32_t e;
                        int64_t a, b;
                        if (done[o2] || lr_unpack_index(p->blob + p->lr.idx, q, p->lr.bits) != j) {
                            continue;
                        }
                        done[o2] = 1;
                        e = lr_s8(p->bexp[oc]);
                        a = lr_unpack_signed(p->blob + p->lr.abq, 2u * q, p->lr.ab_bits) * ((int64_t)1 << (e < 0 ? -e : 0));
                        b = lr_unpack_signed(p->blob + p->lr.abq, 2u * q + 1u, p->lr.ab_bits) * ((int64_t)1 << (e > 0 ? e : 0));
                        for (ox = 0; ox < g->ow; ox++) {
                            acc[o2 * g->ow + ox] += (int32_t)(a * r[ox] + b * s[ox]);
                        }
                    }
                }
                for (o = 0; o < g->cout_g; o++) {
                    pos[o] += (int32_t)lr_kept(mask, (uint32_t)((grp * g->cout_g + o) * g->cin_g + i));
                }
            }
            for (o = 0; o < g->cout_g; o++) {
                const int32_t oc = grp * g->cout_g + o;
                const int32_t mult = lr_rq_mult(&p->rq, (uint32_t)oc), shift = lr_rq_shift(&p->rq, (uint32_t)oc);
                for (ox = 0; ox < g->ow; ox++) {
                    y[(oc * g->oh + oy) * g->ow + ox] = lr_requant(acc[o * g->ow + ox], mult, shift, p->rq.zp_out,
                                                                   p->rq.act_min, p->rq.act_max);
                }
            }
        }
    }
}
