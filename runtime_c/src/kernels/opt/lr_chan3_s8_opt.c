/*
 * lr_chan3_s8_opt.c -- one output channel of an int8 conv with 3-wide kernels (kw = 3, dilation 1) straight from the
 * int8 input, no columns (lr_opt_chan3, lr_opt_s8.h): the LinRep direct path's channels on little scratch and its
 * depthwise convs at strides other than 1, and the dense conv's depthwise convs the padded-plane kernel does not
 * take (stride 2: MobileNet's down-sampling layers). The kernels come packed per kernel row as four int16
 * (w0, w2, w1, 0) with the per-row sums of W (lr_opt_pack3_s8 packs int8 weights; the LinRep path rebuilds W).
 * Equal to the references bit for bit: the same exact int32 sums (integers, the verifier's bound).
 */
#include "kernels/lr_opt_s8.h"

void lr_opt_pack3_s8(const unsigned char *w, int32_t kh, int16_t *pk, int32_t *rows)
{
    int32_t ky;
    for (ky = 0; ky < kh; ky++, w += 3, pk += 4) {
        const int32_t w0 = lr_s8(w[0]), w1 = lr_s8(w[1]), w2 = lr_s8(w[2]);
        pk[0] = (int16_t)w0;
        pk[1] = (int16_t)w2;
        pk[2] = (int16_t)w1;
        pk[3] = 0;
        rows[ky] = w0 + w1 + w2;
    }
}

/* One pixel of lr_opt_chan3 whose three columns are not all inside (borders): its kernel rows ky0 .. ky1 - 1 and
 * columns kx0 .. kx1 - 1 inside, acc = bias + in_offset * (their sum of W) + sum W x. */
static LR_NOINLINE int32_t pk3_pixel(const lr_geom *g, const int8_t *x, const int16_t *pk, int32_t bias, int32_t in_offset,
                         int32_t iy0, int32_t ky0, int32_t ky1, int32_t ix0)
{
    static const unsigned char slot[3] = {0u, 2u, 1u};
    const int32_t kx0 = ix0 < 0 ? (-ix0 < 3 ? -ix0 : 3) : 0;
    const int32_t kx1 = g->w - ix0 < 3 ? (g->w - ix0 > kx0 ? g->w - ix0 : kx0) : 3;
    uint32_t u = 0u, sw = 0u; /* modulo 2^32: the exact sum fits int32 (the verifier's bound) */
    int32_t i, ky, kx;
    for (i = 0; i < g->cin_g; i++) {
        const int8_t *xr = x + (size_t)i * (size_t)(g->h * g->w) + (ptrdiff_t)(iy0 + ky0) * g->w + ix0;
        const int16_t *wr = pk + 4 * (i * g->kh + ky0);
        for (ky = ky0; ky < ky1; ky++, xr += g->w, wr += 4) {
            for (kx = kx0; kx < kx1; kx++) {
                const int32_t wv = wr[slot[kx]];
                u += (uint32_t)(wv * xr[kx]);
                sw += (uint32_t)wv;
            }
        }
    }
    return lr_as_i32((uint32_t)bias + (uint32_t)in_offset * sw + u);
}

#if LR_DSP
/* One kernel row of a stride-1 pixel pair: xv = that row's x[0 .. 3] (SXTB16 into (x0, x2) and (x1, x3)), wp its
 * packed weights ((w0, w2), (w1, 0)): SMLAD (w0, w2) . (x0, x2) + SMLABB w1 x1 into *a0, SMLAD (w0, w2) . (x1, x3) +
 * SMLABT w1 x2 into *a1 (six multiply-adds, four instructions). */
static LR_ALWAYS_INLINE void row_s1(uint32_t xv, const int16_t *wp, int32_t *a0, int32_t *a1)
{
    const int16x2_t ev = lr_sx02(xv), od = lr_sx13(xv);
    const int16x2_t wa = (int16x2_t)lr_ld32(wp), wb = (int16x2_t)lr_ld32(wp + 2);
    *a0 = __smlad(wa, ev, *a0);
    *a0 = __smlabb(wb, od, *a0);
    *a1 = __smlad(wa, od, *a1);
    *a1 = __smlabt(wb, ev, *a1);
}

/* One kernel row of a stride-2 pixel pair from xp: pixel 0 reads x[0 .. 2], pixel 1 x[2 .. 4]; the word x[0 .. 3]
 * split by SXTB16 into (x0, x2) and (x1, x3), and the byte x4: SMLAD (w0, w2) . (x0, x2) + SMLABB w1 x1 for the
 * first, SMLABT w0 x2 + SMLABT w1 x3 + SMLATB w2 x4 for the second (six multiply-adds, five instructions). */
static LR_ALWAYS_INLINE void row_s2(const int8_t *xp, const int16_t *wp, int32_t *a0, int32_t *a1)
{
    const uint32_t xv = lr_ld32(xp);
    const int16x2_t ev = lr_sx02(xv), od = lr_sx13(xv);
    const int16x2_t wa = (int16x2_t)lr_ld32(wp), wb = (int16x2_t)lr_ld32(wp + 2);
    *a0 = __smlad(wa, ev, *a0);
    *a0 = __smlabb(wb, od, *a0);
    *a1 = __smlabt(wa, ev, *a1);
    *a1 = __smlabt(wb, od, *a1);
    *a1 = __smlatb(wa, (int32_t)xp[4], *a1);
}
#endif

/* Two adjacent output pixels of lr_opt_chan3 (stride 1) whose columns are inside: acc[j] = base + sum W x over the nr
 * kernel rows from xc (pixel 0's first tap; x[0 .. 3] of each row inside) and wc (packed rows). A leaf of its
 * own: the hot loop gets the registers, lr_opt_chan3's frame stays small. */
static LR_NOINLINE void pair3(const lr_geom *g, const int8_t *xc, const int16_t *wc, int32_t nr, uint32_t base,
                              int32_t acc[2])
{
    const int32_t hw = g->h * g->w, w = g->w, cin_g = g->cin_g, kh = g->kh;
    int32_t i, ky;
#if LR_DSP
    int32_t a0 = lr_as_i32(base), a1 = a0;
#if LR_OPT_FAST
    if (nr == 3 && kh == 3) { /* every row inside (the common case): the three rows unrolled */
        const int32_t w1 = w, w2 = 2 * w;
        for (i = 0; i < cin_g; i++, xc += hw, wc += 12) {
            row_s1(lr_ld32(xc), wc, &a0, &a1);
            row_s1(lr_ld32(xc + w1), wc + 4, &a0, &a1);
            row_s1(lr_ld32(xc + w2), wc + 8, &a0, &a1);
        }
    } else
#endif
    for (i = 0; i < cin_g; i++, xc += hw, wc += 4 * kh) {
        const int8_t *xp = xc;
        const int16_t *wp = wc;
        for (ky = 0; ky < nr; ky++, xp += w, wp += 4) {
            row_s1(lr_ld32(xp), wp, &a0, &a1);
        }
    }
#else
    uint32_t u0 = base, u1 = base;
    int32_t a0, a1;
    for (i = 0; i < cin_g; i++, xc += hw, wc += 4 * kh) {
        const int8_t *xp = xc;
        const int16_t *wp = wc;
        for (ky = 0; ky < nr; ky++, xp += w, wp += 4) {
            const int32_t x0 = xp[0], x1 = xp[1], x2 = xp[2], x3 = xp[3];
            u0 += (uint32_t)(wp[0] * x0 + wp[2] * x1 + wp[1] * x2);
            u1 += (uint32_t)(wp[0] * x1 + wp[2] * x2 + wp[1] * x3);
        }
    }
    a0 = lr_as_i32(u0);
    a1 = lr_as_i32(u1);
#endif
    acc[0] = a0;
    acc[1] = a1;
}

/* pair3 for the two pixels at a row's left or right end (stride 1, one padding column): their four taps are three
 * input values and one padding tap, which takes the value -in_offset (= the input zero point, an int8: x +
 * in_offset = 0, as padding adds nothing to the reference's sum, while base counts in_offset * W for every tap).
 * xc: the row's first four values (right 0: the word (pad, x0, x1, x2)) or its last four (right 1: (x[w-3], x[w-2],
 * x[w-1], pad)); pad: that byte. */
static LR_NOINLINE void pair3e(const lr_geom *g, const int8_t *xc, const int16_t *wc, int32_t nr, uint32_t base,
                               int right, uint32_t pad, int32_t acc[2])
{
    const int32_t hw = g->h * g->w, w = g->w, cin_g = g->cin_g, kh = g->kh;
    int32_t i, ky;
#if LR_DSP
    int32_t a0 = lr_as_i32(base), a1 = a0;
    for (i = 0; i < cin_g; i++, xc += hw, wc += 4 * kh) {
        const int8_t *xp = xc;
        const int16_t *wp = wc;
        for (ky = 0; ky < nr; ky++, xp += w, wp += 4) {
            row_s1(right ? (lr_ld32(xp) >> 8) | (pad << 24) : (lr_ld32(xp) << 8) | pad, wp, &a0, &a1);
        }
    }
#else
    const int32_t pv = lr_s8((unsigned char)pad);
    uint32_t u0 = base, u1 = base;
    int32_t a0, a1;
    for (i = 0; i < cin_g; i++, xc += hw, wc += 4 * kh) {
        const int8_t *xp = xc;
        const int16_t *wp = wc;
        for (ky = 0; ky < nr; ky++, xp += w, wp += 4) {
            const int32_t x0 = right ? xp[1] : pv, x1 = right ? xp[2] : xp[0];
            const int32_t x2 = right ? xp[3] : xp[1], x3 = right ? pv : xp[2];
            u0 += (uint32_t)(wp[0] * x0 + wp[2] * x1 + wp[1] * x2);
            u1 += (uint32_t)(wp[0] * x1 + wp[2] * x2 + wp[1] * x3);
        }
    }
    a0 = lr_as_i32(u0);
    a1 = lr_as_i32(u1);
#endif
    acc[0] = a0;
    acc[1] = a1;
}

#if LR_DSP
/* Two output pixels of lr_opt_chan3 at stride 2 whose columns are inside (row_s2 per kernel row). Otherwise as
 * pair3. */
static LR_NOINLINE void pair3s2(const lr_geom *g, const int8_t *xc, const int16_t *wc, int32_t nr, uint32_t base,
                                int32_t acc[2])
{
    const int32_t hw = g->h * g->w, w = g->w, cin_g = g->cin_g, kh = g->kh;
    int32_t i, ky, a0 = lr_as_i32(base), a1 = a0;
#if LR_OPT_FAST && !defined(__OPTIMIZE_SIZE__) /* -Os spills the unrolled loop's values (fast paths too) */
    if (nr == 3 && kh == 3) { /* every row inside (the common case): the three rows unrolled */
        const int8_t *x1 = xc + w, *x2 = xc + 2 * w;
        for (i = 0; i < cin_g; i++, xc += hw, x1 += hw, x2 += hw, wc += 12) {
            row_s2(xc, wc, &a0, &a1);
            row_s2(x1, wc + 4, &a0, &a1);
            row_s2(x2, wc + 8, &a0, &a1);
        }
    } else
#endif
    for (i = 0; i < cin_g; i++, xc += hw, wc += 4 * kh) {
        const int8_t *xp = xc;
        const int16_t *wp = wc;
        for (ky = 0; ky < nr; ky++, xp += w, wp += 4) {
            row_s2(xp, wp, &a0, &a1);
        }
    }
    acc[0] = a0;
    acc[1] = a1;
}
#endif

/* Per output row the kernel rows inside the input (ky0 .. ky1 - 1),
 * acc = bias + in_offset * (their sums of W) + sum W x over them for the pixels whose three columns are inside,
 * pk3_pixel for the others. Stride 1 takes two pixels per step: one word x[ix .. ix + 3] holds both pixels'
 * taps, split by SXTB16 into (x0, x2) and (x1, x3): SMLAD (w0, w2) . (x0, x2) + SMLABB w1 x1 for the first,
 * SMLAD (w0, w2) . (x1, x3) + SMLABT w1 x2 for the second (six multiply-adds, four instructions); stride 2 too
 * on the DSP path (pair3s2). */
void lr_opt_chan3(const lr_geom *g, const int8_t *x, const int16_t *pk, const int32_t *rows, int32_t bias,
                  int32_t in_offset, const lr_requant_s8 *q, uint32_t o, int8_t *y)
{
    lr_opt_rq rqo;
    const lr_opt_rq *rq = &rqo;
    const int32_t hw = g->h * g->w, kh = g->kh;
    const int32_t xlo = lr_range_lo(-g->pl, g->sw), xhi = lr_range_hi(2 - g->pl, g->sw, g->w, g->ow);
    /* pair3e's end pairs (stride 1, one padding column each side, a padding byte that is an int8): the left one at
     * lstart (ix0 = -1), the right one at rstart (ix0 = w - 3). With an odd number of inside pixels between them,
     * one input channel on DSP cores (depthwise: the calls cost more than the taps) has the last inside pair keep
     * its first pixel only (at split) and the end pair take the row's last two (a keyword-spotting net's 25 x 5
     * maps); more channels, or the portable path, keep the whole inside pair and the last pixel goes to pk3_pixel
     * (two of three columns, where a second pair3e computes eight taps per row for its six). All decided once per
     * call; the inside pairs of a row run as one loop. */
    const int ends = g->sw == 1 && g->w >= 4 && in_offset >= -127 && in_offset <= 128;
    const int32_t lstart = ends && g->pl >= 1 && g->pl < g->ow ? g->pl - 1 : -1;
    const int32_t rstart = ends && g->w - 2 + g->pl < g->ow ? g->w - 3 + g->pl : -1;
    const int32_t split = LR_DSP && g->cin_g == 1 && rstart > 0 ? rstart - 1 : -1;
    const int pairs = g->sw == 1 || (LR_DSP && g->sw == 2);
    int32_t oy, ox, i, ky;
    lr_opt_rq_init(&rqo, q, o);
    for (oy = 0; oy < g->oh; oy++) {
        const int32_t iy0 = oy * g->sh - g->pt;
        const int32_t ky0 = iy0 < 0 ? (-iy0 < kh ? -iy0 : kh) : 0;
        const int32_t ky1 = g->h - iy0 < kh ? (g->h - iy0 > ky0 ? g->h - iy0 : ky0) : kh;
        const int32_t nr = ky1 - ky0;
        int8_t *yr = y + (size_t)oy * (size_t)g->ow;
        const int8_t *xrow = x + (ptrdiff_t)(iy0 + ky0) * g->w;
        uint32_t base = (uint32_t)bias;
        for (ky = ky0; ky < ky1; ky++) {
            base += (uint32_t)in_offset * (uint32_t)rows[ky];
        }
        for (ox = 0; ox < g->ow; ox++) {
            int32_t ix0 = ox * g->sw - g->pl;
            if (pairs && ox >= xlo && ox + 1 < xhi) { /* a run of pairs, their columns inside (never an end pair's) */
                const int16_t *wc = pk + 4 * ky0;
                int32_t acc[2];
                do {
#if LR_DSP
                    if (g->sw == 2) {
                        pair3s2(g, xrow + ix0, wc, nr, base, acc);
                    } else
#endif
                        pair3(g, xrow + ix0, wc, nr, base, acc);
                    yr[ox] = lr_opt_requant(acc[0], rq);
                    if (ox == split) { /* pixel ox + 1 is the right end pair's first */
                        break;
                    }
                    yr[ox + 1] = lr_opt_requant(acc[1], rq);
                    ox += 2;
                    ix0 += 2 * g->sw;
                } while (ox + 1 < xhi);
                ox -= ox == split ? 0 : 1; /* the loop's step: to the pixel after the last written */
                continue;
            }
            if (ox == lstart || ox == rstart) { /* the row's ends: one padding tap in the pair */
                int32_t acc[2];
                const int right = ox == rstart;
                pair3e(g, xrow + (right ? ix0 - 1 : 0), pk + 4 * ky0, nr, base, right,
                       (uint32_t)(-in_offset) & 0xffu, acc);
                yr[ox] = lr_opt_requant(acc[0], rq);
                yr[ox + 1] = lr_opt_requant(acc[1], rq);
                ox++;
                continue;
            }
            if (ox < xlo || ox >= xhi) {
                yr[ox] = lr_opt_requant(pk3_pixel(g, x, pk, bias, in_offset, iy0, ky0, ky1, ix0), rq);
                continue;
            }
            {
                const int8_t *xc = xrow + ix0;
                const int16_t *wc = pk + 4 * ky0;
                uint32_t u = base;
                for (i = 0; i < g->cin_g; i++, xc += hw, wc += 4 * kh) {
                    const int8_t *xp = xc;
                    const int16_t *wp = wc;
                    for (ky = 0; ky < nr; ky++, xp += g->w, wp += 4) {
                        u += (uint32_t)(wp[0] * xp[0] + wp[2] * xp[1] + wp[1] * xp[2]);
                    }
                }
                yr[ox] = lr_opt_requant(lr_as_i32(u), rq);
            }
        }
    }
}
