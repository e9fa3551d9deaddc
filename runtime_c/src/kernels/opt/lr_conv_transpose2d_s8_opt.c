/*
 * lr_conv_transpose2d_s8_opt.c -- CONV_TRANSPOSE2D of an int8 model, dense and LinRep, optimised (equal to
 * lr_conv_transpose2d_s8_ref and lr_linrep_conv_transpose2d_s8_ref bit for bit).
 *
 * The references scatter one input channel's tap at a time into the output channel's accumulator plane: a load,
 * a multiply-add and a store of the plane for every multiply-add (about 16 instructions each on the Cortex-M4).
 * Here, per output channel and tap, a block of four input pixels of one row takes every input channel of the
 * group in four registers (on DSP cores x + in_offset of the four pixels as two int16 pairs by SXTAB16, the weight
 * in a register, one SMLABB / SMLATB per multiply-add: about 2 instructions per multiply-add with the loads), and
 * the plane is read and written once per block and tap. The output channel's weights are laid out first as
 * int16 [tap][input channel] after the plane (dense: the int8 weights widened; LinRep: each kernel rebuilt once,
 * as the reference does per kernel); a LinRep channel with a W beyond int16 keeps them int32 and runs the same
 * blocks in plain C. Sums are of the reference's terms in another order: the verifier's bound |bias| + 255 *
 * sum |W| < 2^31 bounds every partial sum. Scratch: lr_conv_transpose2d_s8_opt_scratch.
 */
#include "kernels/lr_opt_s8.h"

uint64_t lr_conv_transpose2d_s8_opt_scratch(const lr_geom *g, int linrep)
{
    const uint64_t taps = (uint64_t)g->cin_g * (uint64_t)(g->kh * g->kw);
    return (uint64_t)g->oh * (uint64_t)g->ow + (linrep ? taps : (taps + 1u) / 2u);
}

/* Block of four input pixels (row iy, columns ix .. ix + 3) of every input channel of the group, weights wt
 * [cin_g] of one tap (int16 or int32 by W16): the four sums of w * (x + in_offset), added to ar at columns
 * (ix + j) * sw. */
#define TC_BLOCK4(WT)                                                                                                  \
    do {                                                                                                               \
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, c;                                                                     \
        const int8_t *xc = xr + ix;                                                                                    \
        for (c = 0; c < g->cin_g; c++, xc += hw) {                                                                     \
            const int32_t wv = (WT)[c];                                                                                \
            a0 += wv * ((int32_t)xc[0] + in_offset);                                                                   \
            a1 += wv * ((int32_t)xc[1] + in_offset);                                                                   \
            a2 += wv * ((int32_t)xc[2] + in_offset);                                                                   \
            a3 += wv * ((int32_t)xc[3] + in_offset);                                                                   \
        }                                                                                                              \
        ao[0] += a0;                                                                                                   \
        ao[sw] += a1;                                                                                                  \
        ao[2 * sw] += a2;                                                                                              \
        ao[3 * sw] += a3;                                                                                              \
    } while (0)

/* The rest of the row one pixel at a time. */
#define TC_TAIL(WT)                                                                                                    \
    for (; ix < x1; ix++, ao += sw) {                                                                                  \
        int32_t a = 0, c;                                                                                              \
        const int8_t *xc = xr + ix;                                                                                    \
        for (c = 0; c < g->cin_g; c++, xc += hw) {                                                                     \
            a += (WT)[c] * ((int32_t)xc[0] + in_offset);                                                               \
        }                                                                                                              \
        ao[0] += a;                                                                                                    \
    }

#if LR_DSP
/* TC_BLOCK4 for int16 weights on DSP cores: pixels (0, 2) and (1, 3) as int16 pairs with in_offset added
 * (SXTAB16), each multiplied by the weight's low half (SMLABB, SMLATB). */
static inline void block4_dsp(const int8_t *xc, const int16_t *wt, int32_t cin_g, int32_t hw, int16x2_t off2,
                              int32_t *ao, int32_t sw)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, c;
    for (c = 0; c < cin_g; c++, xc += hw) {
        const uint32_t v = lr_ld32(xc);
        const int32_t wv = wt[c];
        const int16x2_t e = lr_sxa02(off2, v), d = lr_sxa13(off2, v);
        a0 = __smlabb((int32_t)e, wv, a0);
        a2 = __smlatb((int32_t)e, wv, a2);
        a1 = __smlabb((int32_t)d, wv, a1);
        a3 = __smlatb((int32_t)d, wv, a3);
    }
    ao[0] += a0;
    ao[sw] += a1;
    ao[2 * sw] += a2;
    ao[3 * sw] += a3;
}
#endif

/* Output channel's accumulators acc (oh * ow, starting at its bias) += the scatter of the group's input channels
 * xg with weights w [tap][cin_g], int16 (w16) or int32 (w32, the other NULL). */
static LR_NOINLINE void scatter(const lr_geom *g, const int8_t *xg, const int16_t *w16, const int32_t *w32,
                                int32_t in_offset, int32_t *acc)
{
    const int32_t hw = g->h * g->w, sw = g->sw;
#if LR_DSP
    const int16x2_t off2 = (int16x2_t)(((uint32_t)(uint16_t)in_offset << 16) | (uint16_t)in_offset);
#endif
    int32_t ky, kx, iy, ix;
    for (ky = 0; ky < g->kh; ky++) {
        const int32_t offy = ky * g->dh - g->pt;
        const int32_t y0 = lr_range_lo(offy, g->sh), y1 = lr_range_hi(offy, g->sh, g->oh, g->h);
        for (kx = 0; kx < g->kw; kx++) {
            const int32_t offx = kx * g->dw - g->pl, t = (ky * g->kw + kx) * g->cin_g;
            const int32_t x0 = lr_range_lo(offx, sw), x1 = lr_range_hi(offx, sw, g->ow, g->w);
            for (iy = y0; iy < y1; iy++) {
                const int8_t *xr = xg + iy * g->w;
                int32_t *ao = acc + (iy * g->sh + offy) * g->ow + x0 * sw + offx;
                ix = x0;
                if (w16 != NULL) {
                    const int16_t *wt = w16 + t;
                    for (; ix + 4 <= x1; ix += 4, ao += 4 * sw) {
#if LR_DSP
                        block4_dsp(xr + ix, wt, g->cin_g, hw, off2, ao, sw);
#else
                        TC_BLOCK4(wt);
#endif
                    }
                    TC_TAIL(wt)
                } else {
                    const int32_t *wt = w32 + t; /* rare (a W beyond int16): one pixel at a time */
                    TC_TAIL(wt)
                }
            }
        }
    }
}

/* Output channel o from its weights: the plane starts at the bias, takes the scatter, and is requantised. */
static void channel(const lr_geom *g, const int8_t *x, const int16_t *w16, const int32_t *w32,
                    const unsigned char *bias, int32_t in_offset, const lr_requant_s8 *rq, int32_t o, int32_t *acc,
                    int8_t *y)
{
    const int32_t plane = g->oh * g->ow, grp = o / g->cout_g;
    const int32_t b = bias != NULL ? lr_opt_lei32(bias + 4u * (uint32_t)o) : 0;
    lr_opt_rq q;
    int32_t j;
    for (j = 0; j < plane; j++) {
        acc[j] = b;
    }
    scatter(g, x + (size_t)(grp * g->cin_g) * (size_t)(g->h * g->w), w16, w32, in_offset, acc);
    lr_opt_rq_init(&q, rq, (uint32_t)o);
    lr_opt_requant_run(acc, plane, &q, y + (size_t)o * (size_t)plane);
}

void lr_conv_transpose2d_s8_opt(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int32_t *scratch,
                                int8_t *y)
{
    const int32_t kk = g->kh * g->kw;
    int16_t *w16 = (int16_t *)(void *)(scratch + g->oh * g->ow);
    int32_t o, i, k;
    for (o = 0; o < g->oc; o++) {
        const int32_t oo = o % g->cout_g, i0 = (o / g->cout_g) * g->cin_g;
        for (i = 0; i < g->cin_g; i++) { /* w[i0 + i][oo][k] -> w16[k][i] */
            const unsigned char *wi = p->w + (size_t)((i0 + i) * g->cout_g + oo) * (size_t)kk;
            for (k = 0; k < kk; k++) {
                w16[k * g->cin_g + i] = (int16_t)lr_s8(wi[k]);
            }
        }
        channel(g, x, w16, NULL, p->bias, p->in_offset, &p->rq, o, scratch, y);
    }
}

void lr_linrep_conv_transpose2d_s8_opt(const lr_geom *g, const int8_t *x, const lr_linrep_s8_params *p,
                                       int32_t *scratch, int8_t *y)
{
    const int32_t kk = g->kh * g->kw, taps = g->cin_g * kk;
    const unsigned char *mask = p->lr.mask ? p->blob + p->lr.mask : NULL;
    int32_t *w32 = scratch + g->oh * g->ow;
    int32_t o, i, k;
    for (o = 0; o < g->oc; o++) {
        const int32_t grp = o / g->cout_g, oo = o % g->cout_g, e = lr_s8(p->bexp[o]);
        const int64_t pa = (int64_t)1 << (e < 0 ? -e : 0), pb = (int64_t)1 << (e > 0 ? e : 0);
        uint32_t n = 0u, kept = 0u; /* kept: kernels kept before grid position n */
        int fits = 1;
        for (i = 0; i < g->cin_g; i++) { /* kernel (grp * cin_g + i, oo) -> w32[k][i] */
            const uint32_t target = (uint32_t)((grp * g->cin_g + i) * g->cout_g + oo);
            const unsigned char *t;
            int64_t a, b;
            if (mask == NULL) {
                kept = target;
            } else {
                for (; n < target; n++) {
                    kept += (uint32_t)lr_kept(mask, n);
                }
            }
            if (!lr_kept(mask, target)) {
                for (k = 0; k < kk; k++) {
                    w32[k * g->cin_g + i] = 0;
                }
                continue;
            }
            t = p->tmpl + (size_t)kk * lr_unpack_index(p->blob + p->lr.idx, kept, p->lr.bits);
            a = lr_unpack_signed(p->blob + p->lr.abq, 2u * kept, p->lr.ab_bits) * pa;
            b = lr_unpack_signed(p->blob + p->lr.abq, 2u * kept + 1u, p->lr.ab_bits) * pb;
            for (k = 0; k < kk; k++) {
                const int32_t wv = (int32_t)(a * lr_s8(t[k]) + b);
                w32[k * g->cin_g + i] = wv;
                fits &= wv >= -32768 && wv <= 32767;
            }
        }
        if (fits) { /* narrowed in place: int16 k lands below int32 word k + 1, read next (memcpy: any type) */
            unsigned char *w16 = (unsigned char *)(void *)w32;
            for (k = 0; k < taps; k++) {
                const int16_t h = (int16_t)w32[k];
                memcpy(w16 + 2 * k, &h, sizeof h);
            }
            channel(g, x, (const int16_t *)(const void *)w16, NULL, p->bias, p->in_offset, &p->rq, o, scratch, y);
        } else {
            channel(g, x, NULL, w32, p->bias, p->in_offset, &p->rq, o, scratch, y);
        }
    }
}
