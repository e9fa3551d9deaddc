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

/* Template value k (t == NULL: the all-ones template of S). */
static int32_t tval(const unsigned char *t, int32_t k)
{
    return t ? lr_s8(t[k]) : 1;
}

/* Interior pixels [xlo, xhi) of a 3 x 3 template, dilation 1, stride sw in x, all three rows in bounds
 * (rows at x0, x1, x2, already at pixel xlo): r[ox] = tsum + sum t * x, the sums in registers. With the
 * DSP extension and stride 1, two pixels per step: per row one word x[0..3], SXTB16 into (x0, x2) and (x1, x3), then
 * SMLAD (t0, t2) and SMLABB / SMLATB t1: six multiply-adds in five instructions. */
static void rows3x3(const int8_t *x0, const int8_t *x1, const int8_t *x2, int32_t sw, const unsigned char *t,
                    int32_t tsum, int32_t xlo, int32_t xhi, int32_t *r)
{
    const int32_t a0 = tval(t, 0), a1 = tval(t, 1), a2 = tval(t, 2), b0 = tval(t, 3), b1 = tval(t, 4);
    const int32_t b2 = tval(t, 5), c0 = tval(t, 6), c1 = tval(t, 7), c2 = tval(t, 8);
    int32_t ox = xlo;
#if LR_DSP
    const int16x2_t a02 = (int16x2_t)(((uint32_t)a0 & 0xffffu) | ((uint32_t)a2 << 16));
    const int16x2_t b02 = (int16x2_t)(((uint32_t)b0 & 0xffffu) | ((uint32_t)b2 << 16));
    const int16x2_t c02 = (int16x2_t)(((uint32_t)c0 & 0xffffu) | ((uint32_t)c2 << 16));
    for (; sw == 1 && ox + 2 <= xhi; ox += 2, x0 += 2, x1 += 2, x2 += 2) {
        const uint32_t va = lr_ld32(x0), vb = lr_ld32(x1), vc = lr_ld32(x2); /* in bounds: ox + 1 is interior */
        int16x2_t e02 = lr_sx02(va), e13 = lr_sx13(va);
        int32_t s0 = __smlabb(e13, a1, __smlad(a02, e02, tsum));
        int32_t s1 = __smlatb(e02, a1, __smlad(a02, e13, tsum));
        e02 = lr_sx02(vb);
        e13 = lr_sx13(vb);
        s0 = __smlabb(e13, b1, __smlad(b02, e02, s0));
        s1 = __smlatb(e02, b1, __smlad(b02, e13, s1));
        e02 = lr_sx02(vc);
        e13 = lr_sx13(vc);
        r[ox] = __smlabb(e13, c1, __smlad(c02, e02, s0));
        r[ox + 1] = __smlatb(e02, c1, __smlad(c02, e13, s1));
    }
#endif
    for (; ox < xhi; ox++, x0 += sw, x1 += sw, x2 += sw) {
        r[ox] = tsum + a0 * x0[0] + a1 * x0[1] + a2 * x0[2] + b0 * x1[0] + b1 * x1[1] + b2 * x1[2] + c0 * x2[0] +
                c1 * x2[1] + c2 * x2[2];
    }
}

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
            tsum += tval(t, ky * g->kw + kx);
        }
    }
    tsum *= in_offset;
    if (g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1 && kylo == 0 && kyhi == 3 && xlo < xhi) {
        const int8_t *x0 = xc + iy0 * g->w + (xlo * g->sw - g->pl);
        rows3x3(x0, x0 + g->w, x0 + 2 * g->w, g->sw, t, tsum, xlo, xhi, r);
    } else {
        for (ox = xlo; ox < xhi; ox++) {
            const int32_t ix0 = ox * g->sw - g->pl;
            int32_t acc = tsum;
            for (ky = kylo; ky < kyhi; ky++) {
                const int8_t *xr = xc + (iy0 + ky * g->dh) * g->w + ix0;
                for (kx = 0; kx < g->kw; kx++) {
                    acc += tval(t, ky * g->kw + kx) * (int32_t)xr[kx * g->dw];
                }
            }
            r[ox] = acc;
        }
    }
    for (ox = 0; ox < g->ow; ox++) { /* border pixels: the taps in bounds */
        const int32_t ix0 = ox * g->sw - g->pl;
        int32_t acc = 0;
        if (ox == xlo && xlo < xhi) {
            ox = xhi - 1;
            continue;
        }
        for (ky = kylo; ky < kyhi; ky++) {
            const int32_t iy = iy0 + ky * g->dh;
            for (kx = 0; kx < g->kw; kx++) {
                const int32_t ix = ix0 + kx * g->dw;
                if (ix >= 0 && ix < g->w) {
                    acc += tval(t, ky * g->kw + kx) * ((int32_t)xc[iy * g->w + ix] + in_offset);
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
