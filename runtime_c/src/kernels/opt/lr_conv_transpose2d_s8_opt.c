/*
 * lr_conv_transpose2d_s8_opt.c -- CONV_TRANSPOSE2D of an int8 model, dense and LinRep, optimised (equal to
 * lr_conv_transpose2d_s8_ref and lr_linrep_conv_transpose2d_s8_ref bit for bit).
 *
 * The references scatter one input channel's tap at a time into the output channel's accumulator plane: a load,
 * a multiply-add and a store of the plane for every multiply-add (about 16 instructions each on the Cortex-M4).
 * Here, per output channel and tap, a block of four input pixels of one row takes up to LR_TC_CHUNK input channels
 * in four registers (on DSP cores x + in_offset of the four pixels as two int16 pairs by SXTAB16, the weight in a
 * register, one SMLABB / SMLATB per multiply-add: about 2 instructions per multiply-add with the loads), and the
 * plane is read and written once per block, tap and chunk. The chunk's weights of the tap are int32 on the stack
 * (dense: the int8 weights; LinRep: each kernel's value at the tap rebuilt as the reference rebuilds it), or, for
 * LinRep given the room (lr_conv_transpose2d_s8_opt_scratch), every kernel of the output channel rebuilt once into
 * the scratch after the plane. Weights beyond int16 run the same blocks in plain C. Sums are of the reference's
 * terms in another order: the verifier's bound |bias| + 255 * sum |W| < 2^31 bounds every partial sum. Scratch:
 * the plane (oh * ow words) at least, as the references.
 */
#include "kernels/lr_opt_s8.h"

#define LR_TC_CHUNK 32 /* input channels per pass over a tap's blocks: their weights take 128 bytes of stack */

uint64_t lr_conv_transpose2d_s8_opt_scratch(const lr_geom *g, int linrep)
{
    return (uint64_t)g->oh * (uint64_t)g->ow + (linrep ? (uint64_t)g->cin_g * (uint64_t)(g->kh * g->kw) : 0u);
}

#if LR_DSP
/* Four input pixels (xc: the first, channel 0 of n, planes hw apart) with int16-range weights wt: pixels (0, 2) and
 * (1, 3) as int16 pairs with in_offset added (SXTAB16), each multiplied by the weight's low half (SMLABB, SMLATB);
 * the sums added to ao at 0, sw, 2 sw, 3 sw. */
static inline void block4_dsp(const int8_t *xc, const int32_t *wt, int32_t n, int32_t hw, int16x2_t off2, int32_t *ao,
                              int32_t sw)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, c;
    for (c = 0; c < n; c++, xc += hw) {
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

/* The same in plain C, any int32 weights. */
static inline void block4(const int8_t *xc, const int32_t *wt, int32_t n, int32_t hw, int32_t in_offset, int32_t *ao,
                          int32_t sw)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, c;
    for (c = 0; c < n; c++, xc += hw) {
        const int32_t wv = wt[c];
        a0 += wv * ((int32_t)xc[0] + in_offset);
        a1 += wv * ((int32_t)xc[1] + in_offset);
        a2 += wv * ((int32_t)xc[2] + in_offset);
        a3 += wv * ((int32_t)xc[3] + in_offset);
    }
    ao[0] += a0;
    ao[sw] += a1;
    ao[2 * sw] += a2;
    ao[3 * sw] += a3;
}

/* acc (the output channel's plane) += tap (ky, kx) of n input channels (xg: the first one's plane) with weights wt[n];
 * fits: every weight within int16. */
static LR_NOINLINE void scatter_tap(const lr_geom *g, const int8_t *xg, int32_t n, const int32_t *wt, int fits,
                                    int32_t in_offset, int32_t ky, int32_t kx, int32_t *acc)
{
    const int32_t hw = g->h * g->w, sw = g->sw;
    const int32_t offy = ky * g->dh - g->pt, offx = kx * g->dw - g->pl;
    const int32_t y0 = lr_range_lo(offy, g->sh), y1 = lr_range_hi(offy, g->sh, g->oh, g->h);
    const int32_t x0 = lr_range_lo(offx, sw), x1 = lr_range_hi(offx, sw, g->ow, g->w);
#if LR_DSP
    const int16x2_t off2 = (int16x2_t)(((uint32_t)(uint16_t)in_offset << 16) | (uint16_t)in_offset);
#else
    (void)fits;
#endif
    int32_t iy, ix, c;
    for (iy = y0; iy < y1; iy++) {
        const int8_t *xr = xg + iy * g->w;
        int32_t *ao = acc + (iy * g->sh + offy) * g->ow + x0 * sw + offx;
        for (ix = x0; ix + 4 <= x1; ix += 4, ao += 4 * sw) {
#if LR_DSP
            if (fits) {
                block4_dsp(xr + ix, wt, n, hw, off2, ao, sw);
                continue;
            }
#endif
            block4(xr + ix, wt, n, hw, in_offset, ao, sw);
        }
        for (; ix < x1; ix++, ao += sw) { /* the rest of the row one pixel at a time */
            const int8_t *xc = xr + ix;
            int32_t a = 0;
            for (c = 0; c < n; c++, xc += hw) {
                a += wt[c] * ((int32_t)xc[0] + in_offset);
            }
            ao[0] += a;
        }
    }
}

/* Output channel o's plane: its bias, then (caller) the scatter; requantised into y. */
static void plane_init(const lr_geom *g, const unsigned char *bias, int32_t o, int32_t *acc)
{
    const int32_t b = bias != NULL ? lr_opt_lei32(bias + 4u * (uint32_t)o) : 0;
    int32_t j;
    for (j = 0; j < g->oh * g->ow; j++) {
        acc[j] = b;
    }
}

static void plane_out(const lr_geom *g, const lr_requant_s8 *rq, int32_t o, const int32_t *acc, int8_t *y)
{
    const int32_t plane = g->oh * g->ow;
    lr_opt_rq q;
    lr_opt_rq_init(&q, rq, (uint32_t)o);
    lr_opt_requant_run(acc, plane, &q, y + (size_t)o * (size_t)plane);
}

void lr_conv_transpose2d_s8_opt(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int32_t *scratch,
                                int8_t *y)
{
    const int32_t kk = g->kh * g->kw, hw = g->h * g->w;
    int32_t wt[LR_TC_CHUNK];
    int32_t o, c0, c, ky, kx;
    for (o = 0; o < g->oc; o++) {
        const int32_t oo = o % g->cout_g, i0 = (o / g->cout_g) * g->cin_g;
        plane_init(g, p->bias, o, scratch);
        for (ky = 0; ky < g->kh; ky++) {
            for (kx = 0; kx < g->kw; kx++) {
                for (c0 = 0; c0 < g->cin_g; c0 += LR_TC_CHUNK) {
                    const int32_t n = g->cin_g - c0 < LR_TC_CHUNK ? g->cin_g - c0 : LR_TC_CHUNK;
                    const unsigned char *w = p->w + ((size_t)((i0 + c0) * g->cout_g + oo) * (size_t)kk +
                                                     (size_t)(ky * g->kw + kx));
                    for (c = 0; c < n; c++, w += (size_t)g->cout_g * (size_t)kk) { /* w[i0 + c0 + c][oo][ky][kx] */
                        wt[c] = lr_s8(*w);
                    }
                    scatter_tap(g, x + (size_t)(i0 + c0) * (size_t)hw, n, wt, 1, p->in_offset, ky, kx, scratch);
                }
            }
        }
        plane_out(g, &p->rq, o, scratch, y);
    }
}

/* The walk along the LinRep grid (position n = i * cout_g + oo) counting the kept kernels (the mask's bits). */
typedef struct rank_walk {
    uint32_t n, kept; /* kept: kernels kept before position n */
} rank_walk;

/* The rank among the kept kernels of kernel (input channel i, output channel oo of its group), or -1 if pruned;
 * the walk advanced to it (targets must not decrease). */
static int32_t rank_at(const lr_geom *g, const unsigned char *mask, rank_walk *r, int32_t i, int32_t oo)
{
    const uint32_t target = (uint32_t)(i * g->cout_g + oo);
    if (mask == NULL) {
        return (int32_t)target;
    }
    for (; r->n < target; r->n++) {
        r->kept += (uint32_t)lr_kept(mask, r->n);
    }
    return lr_kept(mask, target) ? (int32_t)r->kept : -1;
}

/* Taps k0 .. k1 - 1 of the kernel of rank `kept` (b exponent e) rebuilt as the reference rebuilds them, into w at
 * stride `step`; whether all are within int16. */
static int rebuild(const lr_linrep_s8_params *p, int32_t kept, int32_t e, int32_t kk, int32_t k0, int32_t k1,
                   int32_t *w, int32_t step)
{
    const int64_t pa = (int64_t)1 << (e < 0 ? -e : 0), pb = (int64_t)1 << (e > 0 ? e : 0);
    const unsigned char *t = p->tmpl + (size_t)kk * lr_unpack_index(p->blob + p->lr.idx, (uint32_t)kept, p->lr.bits);
    const int64_t a = lr_unpack_signed(p->blob + p->lr.abq, 2u * (uint32_t)kept, p->lr.ab_bits) * pa;
    const int64_t b = lr_unpack_signed(p->blob + p->lr.abq, 2u * (uint32_t)kept + 1u, p->lr.ab_bits) * pb;
    int fits = 1;
    int32_t k;
    for (k = k0; k < k1; k++, w += step) {
        const int32_t v = (int32_t)(a * lr_s8(t[k]) + b);
        *w = v;
        fits &= v >= -32768 && v <= 32767;
    }
    return fits;
}

void lr_linrep_conv_transpose2d_s8_opt(const lr_geom *g, const int8_t *x, const lr_linrep_s8_params *p,
                                       int32_t *scratch, uint64_t words, int8_t *y)
{
    const int32_t kk = g->kh * g->kw, hw = g->h * g->w;
    const unsigned char *mask = p->lr.mask ? p->blob + p->lr.mask : NULL;
    const int whole = words >= lr_conv_transpose2d_s8_opt_scratch(g, 1); /* every kernel rebuilt once */
    int32_t *table = scratch + g->oh * g->ow; /* whole: [tap][cin_g] int32 */
    int32_t wt[LR_TC_CHUNK];
    int32_t o, i, c0, c, t;
    for (o = 0; o < g->oc; o++) {
        const int32_t oo = o % g->cout_g, i0 = (o / g->cout_g) * g->cin_g, e = lr_s8(p->bexp[o]);
        rank_walk walk = {0u, 0u};
        int fits = 1;
        plane_init(g, p->bias, o, scratch);
        if (whole) {
            for (i = 0; i < g->cin_g; i++) {
                const int32_t kept = rank_at(g, mask, &walk, i0 + i, oo);
                if (kept < 0) {
                    for (t = 0; t < kk; t++) {
                        table[t * g->cin_g + i] = 0;
                    }
                } else {
                    fits &= rebuild(p, kept, e, kk, 0, kk, table + i, g->cin_g);
                }
            }
            for (t = 0; t < kk; t++) {
                scatter_tap(g, x + (size_t)i0 * (size_t)hw, g->cin_g, table + t * g->cin_g, fits, p->in_offset,
                            t / g->kw, t % g->kw, scratch);
            }
        } else {
            for (c0 = 0; c0 < g->cin_g; c0 += LR_TC_CHUNK) { /* a chunk's kernels rebuilt one tap at a time */
                const int32_t n = g->cin_g - c0 < LR_TC_CHUNK ? g->cin_g - c0 : LR_TC_CHUNK;
                const rank_walk start = walk;
                for (t = 0; t < kk; t++) {
                    walk = start;
                    fits = 1;
                    for (c = 0; c < n; c++) {
                        const int32_t kept = rank_at(g, mask, &walk, i0 + c0 + c, oo);
                        wt[c] = 0;
                        if (kept >= 0) {
                            fits &= rebuild(p, kept, e, kk, t, t + 1, wt + c, 1);
                        }
                    }
                    scatter_tap(g, x + (size_t)(i0 + c0) * (size_t)hw, n, wt, fits, p->in_offset, t / g->kw,
                                t % g->kw, scratch);
                }
            }
        }
        plane_out(g, &p->rq, o, scratch, y);
    }
}
