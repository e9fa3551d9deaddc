/*
 * lr_linrep_conv2d_reuse_s8_opt.c -- LINREP_CONV2D of an int8 model, template reuse, optimised (equal to
 * lr_linrep_conv2d_reuse_s8_ref bit for bit; the same exact integer acc as the direct path).
 *
 * Per output row and input channel i: the box sum S and, once per template j used by the kernels
 * (o, i), the response R_j; every output channel o using j adds a'_o * R_j + b'_o * S. Differences
 * from the reference:
 *  - the output channels using each template are chained in one pass (next[], with last[] indexed by
 *    template, k words restored to -1 after use) instead of a quadratic scan;
 *  - interior output pixels of R and S skip the bounds tests and add in_offset once:
 *    R = in_offset * sum_{rows in bounds} t + sum t * x;
 *  - a' and b' are int32: the verifier's bound |a'| * sum |t| * 255 + |b'| * kh * kw * 255 < 2^31 makes
 *    b' fit, and a' fit unless the template is all zeros (then R = 0 and a' is not needed); each product
 *    and the sum a' * R + b' * S fit int32 (they are sums of W * (x + in_offset) terms).
 * Pruned kernels (kernel mask) add nothing, as in the reference.
 *
 * Scratch (int32 words, lr_linrep_conv2d_reuse_s8_scratch): acc [cout_g][ow], R [ow], S [ow],
 * next [cout_g], tj [cout_g], pos [cout_g], base [cout_g], last [k].
 */
#include "kernels/lr_opt_s8.h"

/* Row oy of R (t != NULL: the template's kh * kw int8 values) or S (t == NULL) of input plane xc. */
static void row_response(const lr_geom *g, const int8_t *xc, int32_t oy, const unsigned char *t, int32_t in_offset,
                         int32_t xlo, int32_t xhi, int32_t *r)
{
    const int32_t iy0 = oy * g->sh - g->pt;
    int32_t kylo = 0, kyhi = g->kh, tsum = 0, ky, kx, ox;
    while (kylo < g->kh && iy0 + kylo * g->dh < 0) {
        kylo++;
    }
    while (kyhi > kylo && iy0 + (kyhi - 1) * g->dh >= g->h) {
        kyhi--;
    }
    for (ky = kylo; ky < kyhi; ky++) {
        for (kx = 0; kx < g->kw; kx++) {
            tsum += t ? lr_s8(t[ky * g->kw + kx]) : 1;
        }
    }
    tsum *= in_offset;
    for (ox = 0; ox < g->ow; ox++) {
        const int32_t ix0 = ox * g->sw - g->pl;
        int32_t acc = 0;
        if (ox >= xlo && ox < xhi) {
            acc = tsum;
            for (ky = kylo; ky < kyhi; ky++) {
                const int8_t *xr = xc + (iy0 + ky * g->dh) * g->w + ix0;
                if (t) {
                    const unsigned char *tr = t + ky * g->kw;
                    for (kx = 0; kx < g->kw; kx++) {
                        acc += lr_s8(tr[kx]) * (int32_t)xr[kx * g->dw];
                    }
                } else {
                    for (kx = 0; kx < g->kw; kx++) {
                        acc += (int32_t)xr[kx * g->dw];
                    }
                }
            }
        } else {
            for (ky = kylo; ky < kyhi; ky++) {
                const int32_t iy = iy0 + ky * g->dh;
                for (kx = 0; kx < g->kw; kx++) {
                    const int32_t ix = ix0 + kx * g->dw;
                    if (ix >= 0 && ix < g->w) {
                        const int32_t v = (int32_t)xc[iy * g->w + ix] + in_offset;
                        acc += t ? lr_s8(t[ky * g->kw + kx]) * v : v;
                    }
                }
            }
        }
        r[ox] = acc;
    }
}

void lr_linrep_conv2d_reuse_s8_opt(const lr_geom *g, const int8_t *x, const lr_linrep_s8_params *p,
                                   int32_t *scratch, int8_t *y)
{
    const int32_t kk = g->kh * g->kw, ow = g->ow;
    const unsigned char *mask = p->lr.mask ? p->blob + p->lr.mask : NULL;
    const unsigned char *idx = p->blob + p->lr.idx, *abq = p->blob + p->lr.abq;
    const int32_t xlo = lr_range_lo(-g->pl, g->sw), xhi = lr_range_hi((g->kw - 1) * g->dw - g->pl, g->sw, g->w, g->ow);
    int32_t *acc = scratch, *r = acc + g->cout_g * ow, *s = r + ow, *next = s + ow, *tj = next + g->cout_g;
    int32_t *pos = tj + g->cout_g, *base = pos + g->cout_g, *last = base + g->cout_g;
    int32_t grp, oy, ox, i, o;
    uint32_t j, n, rank = 0u;
    for (j = 0u; j < p->k; j++) {
        last[j] = -1;
    }
    for (grp = 0; grp < g->groups; grp++) {
        for (o = 0; o < g->cout_g; o++) { /* rank of kernel (o, 0) among the kept ones */
            base[o] = (int32_t)rank;
            for (i = 0; i < g->cin_g; i++) {
                rank += (uint32_t)lr_kept(mask, (uint32_t)((grp * g->cout_g + o) * g->cin_g + i));
            }
        }
        for (oy = 0; oy < g->oh; oy++) {
            for (o = 0; o < g->cout_g; o++) {
                const int32_t bias = p->bias ? lr_lei32(p->bias + 4u * (uint32_t)(grp * g->cout_g + o)) : 0;
                for (ox = 0; ox < ow; ox++) {
                    acc[o * ow + ox] = bias;
                }
                pos[o] = base[o];
            }
            for (i = 0; i < g->cin_g; i++) {
                const int8_t *xc = x + (size_t)(grp * g->cin_g + i) * (size_t)(g->h * g->w);
                row_response(g, xc, oy, NULL, p->in_offset, xlo, xhi, s);
                for (o = g->cout_g - 1; o >= 0; o--) { /* chain the channels of each template, ascending */
                    n = (uint32_t)((grp * g->cout_g + o) * g->cin_g + i);
                    if (!lr_kept(mask, n)) {
                        tj[o] = -1;
                        continue;
                    }
                    j = lr_unpack_index(idx, (uint32_t)pos[o], p->lr.bits);
                    tj[o] = (int32_t)j;
                    next[o] = last[j];
                    last[j] = o;
                    pos[o]++;
                }
                for (o = 0; o < g->cout_g; o++) {
                    int32_t c;
                    if (tj[o] < 0 || last[tj[o]] != o) {
                        continue; /* pruned, or not the first channel of its template */
                    }
                    last[tj[o]] = -1;
                    row_response(g, xc, oy, p->tmpl + (size_t)kk * (uint32_t)tj[o], p->in_offset, xlo, xhi, r);
                    for (c = o; c >= 0; c = next[c]) {
                        const int32_t oc = grp * g->cout_g + c, e = lr_s8(p->bexp[oc]);
                        const uint32_t q = (uint32_t)pos[c] - 1u;
                        const int64_t a = lr_unpack_signed(abq, 2u * q, p->lr.ab_bits) * ((int64_t)1 << (e < 0 ? -e : 0));
                        const int32_t b = (int32_t)(lr_unpack_signed(abq, 2u * q + 1u, p->lr.ab_bits) *
                                                    ((int64_t)1 << (e > 0 ? e : 0)));
                        const int32_t a32 = a >= INT32_MIN && a <= INT32_MAX ? (int32_t)a : 0;
                        int32_t *ac = acc + c * ow;
                        if (b == 0) {
                            for (ox = 0; ox < ow; ox++) {
                                ac[ox] += a32 * r[ox];
                            }
                        } else {
                            for (ox = 0; ox < ow; ox++) {
                                ac[ox] += a32 * r[ox] + b * s[ox];
                            }
                        }
                    }
                }
            }
            for (o = 0; o < g->cout_g; o++) {
                const int32_t oc = grp * g->cout_g + o;
                const int32_t mult = lr_rq_mult(&p->rq, (uint32_t)oc), shift = lr_rq_shift(&p->rq, (uint32_t)oc);
                for (ox = 0; ox < ow; ox++) {
                    y[(oc * g->oh + oy) * ow + ox] = lr_requant(acc[o * ow + ox], mult, shift, p->rq.zp_out,
                                                                p->rq.act_min, p->rq.act_max);
                }
            }
        }
    }
}
