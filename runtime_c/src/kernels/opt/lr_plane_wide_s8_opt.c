/*
 * lr_plane_wide_s8_opt.c -- one output channel of a conv with 5- or 7-wide kernels over one input channel on a padded
 * plane (the 5 x 5 and 7 x 7 depthwise convs of MobileNetV3 / MCUNet / EfficientNet-style nets, dense and LinRep
 * direct), optimised: equal to lr_conv2d_channel_s8_ref bit for bit.
 *
 * The input channel is first copied into a padded plane (lr_opt_plane_wide_geom, lr_opt_pad_plane: every tap of every
 * output pixel inside, the padding filled with -in_offset), so that every pixel is interior: its sum is
 * bias + in_offset * sum(w) + sum w * x, the reference's exact int32 accumulator (integers, the verifier's bound).
 * Output pixels go in pairs, each kernel row of the pair from two words x0 .. x7 of the plane row (any alignment:
 * LDR; at stride 2 with 7-wide kernels also the byte x8): with the DSP extension the words' bytes (x0, x2), (x1, x3),
 * (x4, x6), (x5, x7) (SXTB16) meet the row's weights packed as (w0, w2), (w1, w3), (w4, 0) (5-wide) or (w0, w2),
 * (w1, w3), (w4, w6), (w5, 0) (7-wide):
 *   5-wide, pixel 0 = (w0, w2).(x0, x2) + (w1, w3).(x1, x3) + w4 x4                        (SMLAD, SMLAD, SMLABB)
 *     stride 1, pixel 1 = (w0, w2).(x1, x3) + w1 x2 + w3 x4 + w4 x5           (SMLAD, SMLABT, SMLATB, SMLABB)
 *     stride 2, pixel 1 = w0 x2 + w1 x3 + w2 x4 + w3 x5 + w4 x6         (SMLABT, SMLABT, SMLATB, SMLATB, SMLABT)
 *   7-wide, pixel 0 = (w0, w2).(x0, x2) + (w1, w3).(x1, x3) + (w4, w6).(x4, x6) + w5 x5
 *     stride 1, pixel 1 = (w0, w2).(x1, x3) + w1 x2 + w3 x4 + (w4, w6).(x5, x7) + w5 x6
 *     stride 2, pixel 1 = w0 x2 + w1 x3 + w2 x4 + w3 x5 + w4 x6 + w5 x7 + w6 x8 (one multiply-add each)
 * 5-wide: about 16 instructions per kernel row of a pixel pair (10 multiply-adds) with the weights' loads. Elsewhere
 * (hosts, M0, M3) the same pairs in plain C. Whole output rows per call while they fit LR_PW_ACC sums (else pieces
 * of rows), then the sums requantised together (lr_opt_requant_run). A fast path (LR_OPT_FAST), as the 3 x 3 plane
 * kernel (lr_conv2d_s8_opt.c) beside which it runs; left out of builds with -DLR_PLANE_WIDE=0 (LR_OPT_WIDE).
 */
#include "kernels/lr_opt_s8.h"

#if LR_OPT_WIDE

#define LR_PW_ACC 32 /* sums per call: 128 bytes of stack */

#if LR_DSP
/* A kernel row's two words at t, pixel 0's sum from the first (5-wide) or first two (7-wide) weight pairs. */
#define LR_PW_LOAD(t) \
    const uint32_t va = lr_ld32(t), vb = lr_ld32((t) + 4); \
    const int16x2_t ea = lr_sx02(va), oa = lr_sx13(va), eb = lr_sx02(vb), ob = lr_sx13(vb); \
    s0 = __smlad(k[0], ea, s0); \
    s0 = __smlad(k[1], oa, s0)
/* One kernel row of a pixel pair at t into s0, s1 (the weights k advance): 5-wide at stride 1 (R5S1) and 2 (R5S2),
 * 7-wide at stride 1 (R7S1) and 2 (R7S2), as above. */
#define LR_R5S1(t) \
    do { \
        LR_PW_LOAD(t); \
        s0 = __smlabb(eb, k[2], s0); \
        s1 = __smlad(k[0], oa, s1); \
        s1 = __smlabt(k[1], ea, s1); \
        s1 = __smlatb(k[1], eb, s1); \
        s1 = __smlabb(ob, k[2], s1); \
        k += 3; \
    } while (0)
#define LR_R5S2(t) \
    do { \
        LR_PW_LOAD(t); \
        s0 = __smlabb(eb, k[2], s0); \
        s1 = __smlabt(k[0], ea, s1); \
        s1 = __smlabt(k[1], oa, s1); \
        s1 = __smlatb(k[0], eb, s1); \
        s1 = __smlatb(k[1], ob, s1); \
        s1 = __smlabt(k[2], eb, s1); \
        k += 3; \
    } while (0)
#define LR_R7S1(t) \
    do { \
        LR_PW_LOAD(t); \
        s0 = __smlad(k[2], eb, s0); \
        s0 = __smlabb(k[3], ob, s0); \
        s1 = __smlad(k[0], oa, s1); \
        s1 = __smlabt(k[1], ea, s1); \
        s1 = __smlatb(k[1], eb, s1); \
        s1 = __smlad(k[2], ob, s1); \
        s1 = __smlabt(k[3], eb, s1); \
        k += 4; \
    } while (0)
#define LR_R7S2(t) \
    do { \
        LR_PW_LOAD(t); \
        s0 = __smlad(k[2], eb, s0); \
        s0 = __smlabb(k[3], ob, s0); \
        s1 = __smlabt(k[0], ea, s1); \
        s1 = __smlabt(k[1], oa, s1); \
        s1 = __smlatb(k[0], eb, s1); \
        s1 = __smlatb(k[1], ob, s1); \
        s1 = __smlabt(k[2], eb, s1); \
        s1 = __smlabt(k[3], ob, s1); \
        s1 = __smlatb(k[2], (int32_t)(t)[8], s1); \
        k += 4; \
    } while (0)
/* The pixel pairs of one output row from q (2 s bytes a pair), kh kernel rows of R each (U: 5 x 5 rows unrolled). */
#define LR_PW_ROW(R, s, U) \
    for (j = 0; j < span; j += 2, q += 2 * (s)) { \
        const int8_t *t = q; \
        const int32_t *k = pk; \
        int32_t s0 = start, s1 = start; \
        if ((U) && kh == 5) { \
            R(t); \
            R(t + ww); \
            R(t + 2 * ww); \
            R(t + 3 * ww); \
            R(t + 4 * ww); \
        } else { \
            for (ky = 0; ky < kh; ky++, t += ww) { \
                R(t); \
            } \
        } \
        acc[j] = s0; \
        acc[j + 1] = s1; \
    }
#endif

/* The sums start + sum w x of `rows` output rows of n pixels (n >= 1) at stride s (1 or 2) of kh x kw kernels (kw 5
 * or 7) on a padded plane of row stride ww (output row r on plane rows s r .. s r + kh - 1) into acc[r * n + j], in
 * pairs as lr_opt_plane3x3's rows3: with an odd n a row's last pair also sums pixel n, whose slot is the next row's
 * first (written again by that row; the last row's: acc[rows * n], the caller's spare slot), its reads up to 3 bytes
 * past the row's span (the plane's next row, or at its end the spare bytes lr_opt_plane_wide_words counts). pk: the
 * kernel rows' packed words (DSP, above); w: the kh x kw values (portable). */
static LR_NOINLINE void rows_wide(const int8_t *p, int32_t ww, int32_t s, int32_t n, int32_t rows, int32_t kh,
                                  int32_t kw, const int32_t *pk, const int16_t *w, int32_t start, int32_t *acc)
{
    const int32_t span = (n + 1) & ~1; /* the sums a row writes */
    int32_t r, j, ky;
    for (r = 0; r < rows; r++, p += s * ww, acc += n) {
        const int8_t *q = p;
#if LR_DSP
        (void)w;
        if (kw == 5 && s == 1) {
            LR_PW_ROW(LR_R5S1, 1, 1)
        } else if (kw == 5) {
            LR_PW_ROW(LR_R5S2, 2, 1)
        } else if (s == 1) {
            LR_PW_ROW(LR_R7S1, 1, 0)
        } else {
            LR_PW_ROW(LR_R7S2, 2, 0)
        }
#else
        (void)pk;
        for (j = 0; j < span; j += 2, q += 2 * s) {
            const int8_t *t = q;
            const int16_t *wr = w;
            int32_t s0 = start, s1 = start, kx;
            for (ky = 0; ky < kh; ky++, t += ww, wr += kw) {
                for (kx = 0; kx < kw; kx++) {
                    s0 += wr[kx] * t[kx];
                    s1 += wr[kx] * t[s + kx];
                }
            }
            acc[j] = s0;
            acc[j + 1] = s1;
        }
#endif
    }
}

/* The kernel rows' words for rows_wide's DSP loops: (w0, w2), (w1, w3), (w4, 0) per row of 5, (w0, w2), (w1, w3),
 * (w4, w6), (w5, 0) per row of 7. */
static void pack_wide(const int16_t *w, int32_t kh, int32_t kw, int32_t *pk)
{
    int32_t ky;
    for (ky = 0; ky < kh; ky++, w += kw) {
        *pk++ = lr_as_i32((uint32_t)(uint16_t)w[0] | ((uint32_t)(uint16_t)w[2] << 16));
        *pk++ = lr_as_i32((uint32_t)(uint16_t)w[1] | ((uint32_t)(uint16_t)w[3] << 16));
        if (kw == 7) {
            *pk++ = lr_as_i32((uint32_t)(uint16_t)w[4] | ((uint32_t)(uint16_t)w[6] << 16));
            *pk++ = (int32_t)(uint16_t)w[5];
        } else {
            *pk++ = (int32_t)(uint16_t)w[4];
        }
    }
}

void lr_opt_plane_wide(const lr_geom *g, const int8_t *plane, const int16_t *w, int32_t bias, int32_t in_offset,
                       const lr_requant_s8 *q, uint32_t o, int8_t *y)
{
    const int32_t ow = g->ow, oh = g->oh, ww = g->w, s = g->sw, kh = g->kh, kw = g->kw;
    const int32_t per = (LR_PW_ACC - 1) / ow; /* whole rows per call (0: pieces of rows), and the spare slot */
    lr_opt_rq rq;
    int32_t acc[LR_PW_ACC], pk[4 * LR_PLANE_WIDE_KH];
    int32_t sumw = 0, k, oy, ox;
    lr_opt_rq_init(&rq, q, o);
    for (k = 0; k < kh * kw; k++) {
        sumw += w[k];
    }
    pack_wide(w, kh, kw, pk);
    sumw = bias + sumw * in_offset;
    if (per > 0) {
        for (oy = 0; oy < oh; oy += per) {
            const int32_t n = oh - oy < per ? oh - oy : per;
            rows_wide(plane + oy * s * ww, ww, s, ow, n, kh, kw, pk, w, sumw, acc);
            lr_opt_requant_run(acc, n * ow, &rq, y + oy * ow);
        }
        return;
    }
    for (oy = 0; oy < oh; oy++) { /* wide rows: pieces of an even LR_PW_ACC - 2 pixels, the last one any */
        for (ox = 0; ox < ow; ox += LR_PW_ACC - 2) {
            const int32_t n = ow - ox < LR_PW_ACC - 2 ? ow - ox : LR_PW_ACC - 2;
            rows_wide(plane + oy * s * ww + ox * s, ww, s, n, 1, kh, kw, pk, w, sumw, acc);
            lr_opt_requant_run(acc, n, &rq, y + oy * ow + ox);
        }
    }
}

void lr_opt_plane_wide_geom(const lr_geom *g, lr_geom *gp)
{
    *gp = *g;
    gp->h = g->sh * (g->oh - 1) + g->kh;
    gp->w = g->sw * (g->ow - 1) + g->kw;
    gp->pt = gp->pl = gp->pb = gp->pr = 0;
}

int lr_opt_conv_plane_wide(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int32_t *scratch,
                           uint32_t words, int8_t *y)
{
    const uint64_t need = lr_opt_plane_wide_words(g);
    const int8_t *const w8 = (const int8_t *)(const void *)p->w;
    const int32_t kk = g->kh * g->kw;
    int8_t *plane = (int8_t *)(void *)scratch;
    lr_geom gp;
    int16_t w[7 * LR_PLANE_WIDE_KH];
    int32_t o, k, have = -1;
    if (need == 0u || (uint64_t)words < need) {
        return 0;
    }
    lr_opt_plane_wide_geom(g, &gp);
    for (o = 0; o < g->oc; o++) {
        const int32_t ic = o / g->cout_g;
        if (ic != have) {
            lr_opt_pad_plane(g, x + (size_t)ic * (size_t)(g->h * g->w), -g->pt, gp.h, gp.w, (int8_t)-p->in_offset,
                             plane, have < 0);
            have = ic;
        }
        for (k = 0; k < kk; k++) {
            w[k] = w8[kk * o + k];
        }
        lr_opt_plane_wide(&gp, plane, w, p->bias ? lr_opt_lei32(p->bias + 4u * (uint32_t)o) : 0, p->in_offset, &p->rq,
                          (uint32_t)o, y + (size_t)o * (size_t)(g->oh * g->ow));
    }
    return 1;
}

uint64_t lr_opt_plane_wide_words(const lr_geom *g)
{
    if (g->cin_g == 1 && (g->kw == 5 || g->kw == 7) && g->kh >= 1 && g->kh <= LR_PLANE_WIDE_KH && g->dh == 1 &&
        g->dw == 1 && ((g->sh == 1 && g->sw == 1) || (g->sh == 2 && g->sw == 2 && g->cout_g == 1))) {
        lr_geom gp;
        lr_opt_plane_wide_geom(g, &gp);
        return ((uint64_t)gp.h * (uint64_t)gp.w + 6u) / 4u; /* and 3 spare bytes (rows_wide) */
    }
    return 0u;
}
#else
typedef int lr_plane_wide_s8_opt_unused; /* ISO C: a translation unit declares something */
#endif
