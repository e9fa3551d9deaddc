/*
 * lr_linrep_conv2d_direct_s8_opt.c -- LINREP_CONV2D of an int8 model, direct path, optimised (equal to
 * lr_linrep_conv2d_direct_s8_ref bit for bit).
 *
 * The integer kernels W = a_q * t_q * 2^max(0, -e) + b_q * 2^max(0, e) (docs/INTEGER.md section 3; pruned
 * kernels 0) exceed int8, but usually fit int16: then the kernels of a block of output channels of one group
 * (lr_direct_s8_block: as many as the caller's scratch holds) are rebuilt once per layer as int16 in scratch, in the dense opt conv's tap order
 * (on the DSP path each full group of four taps as (0, 2, 1, 3), the order of its im2col columns), and the
 * block runs the dense opt conv's scheme: two output pixels' int16 columns (lr_opt_im2col), then 2 x 2
 * accumulators per pair of channels, two taps per SMLAD on the DSP path (the int16 weights need no SXTB16;
 * at -O2 each pair of channels interleaved after the rebuild and dot16x's loop in assembly, 13 instructions per
 * 16 multiply-adds), plain C elsewhere. The columns are gathered once per block. A block with any |W| > 32767 runs in halves as
 * two int16 planes W = 256 * wh + wl (two dot products), and where wh would exceed int16 per channel: its
 * int32 kernels in scratch, lr_conv2d_channel_s8_opt. Small blocks of 3-wide kernels (every block of a depthwise
 * conv) run per channel instead, without columns (per_channel: the gather per block is dear); in fast-path builds a
 * layer of one-input-channel 3 x 3, kh x 5 or kh x 7 kernels in small blocks (every depthwise 3 x 3, 5 x 5 and 7 x 7
 * one) takes the dense conv's kernel on a padded plane instead (plane_block, lr_opt_plane3x3 / lr_opt_plane_wide),
 * when the scratch holds the plane.
 * Every sum is the reference's exact int32 accumulator (integers, the verifier's bound), hence the same outputs.
 * Scratch:
 * `words` int32 words from the caller (two columns, then the block's int16 kernels); with less than one
 * channel's int16 kernels beside the columns (lr_linrep_conv2d_direct_s8_scratch_min: per words), every channel
 * runs alone: 3-wide kernels (kw = 3, dilation 1) whose W fit int16 packed per kernel row, straight from the int8
 * input (lr_opt_chan3: no columns), other kernels with their int32 kernels (lr_conv2d_channel_s8_opt).
 */
#include "kernels/lr_opt_s8.h"


/* The next kernel's a and b (scaled by the channel's exponent): *kept advances. */
static void next_ab(const lr_linrep_s8_params *p, int32_t e, uint32_t *kept, int64_t *a, int64_t *b,
                    const unsigned char **t, int32_t kk)
{
    const int64_t pa = (int64_t)1 << (e < 0 ? -e : 0), pb = (int64_t)1 << (e > 0 ? e : 0);
    *t = p->tmpl + (size_t)kk * lr_unpack_index(p->blob + p->lr.idx, *kept, p->lr.bits);
    *a = lr_unpack_signed(p->blob + p->lr.abq, 2u * *kept, p->lr.ab_bits) * pa;
    *b = lr_unpack_signed(p->blob + p->lr.abq, 2u * *kept + 1u, p->lr.ab_bits) * pb;
    (*kept)++;
}

/* The interleaved columns' tap order (lr_opt_col_pos): each whole group of four taps of w (per values) as
 * (0, 2, 1, 3). */
static void permute(int16_t *w, int32_t per)
{
    int32_t k;
    for (k = 0; k + 4 <= per; k += 4) {
        const int16_t w1 = w[k + 1];
        w[k + 1] = w[k + 2];
        w[k + 2] = w1;
    }
}

/* Output channel o's kernels as int16 in the tap order of lr_opt_im2col: split 0, w = W (0 if some
 * |W| > 32767); split 1, two planes W = wh * 256 + w (w = the low byte as int8, wh at w + plane; 0 if some
 * |W| >= 2^23 - 2^8, where wh would not fit int16). */
static int rebuild16(const lr_geom *g, const lr_linrep_s8_params *p, const unsigned char *mask, int32_t o,
                     uint32_t *kept, int16_t *w, int split, size_t plane)
{
    const int32_t kk = g->kh * g->kw, e = lr_s8(p->bexp[o]);
    const int64_t lim = split ? 8388352 : 32767;
    int32_t i, k;
    for (i = 0; i < g->cin_g; i++) {
        int16_t *wi = w + i * kk;
        const unsigned char *t;
        int64_t a, b;
        if (!lr_kept(mask, (uint32_t)(o * g->cin_g + i))) {
            for (k = 0; k < kk; k++) {
                wi[k] = 0;
                if (split) {
                    wi[plane + (size_t)k] = 0;
                }
            }
            continue;
        }
        next_ab(p, e, kept, &a, &b, &t, kk);
        if ((a < 0 ? -a : a) * 128 + (b < 0 ? -b : b) > lim) { /* |W| <= |a| * 128 + |b| */
            return 0;
        }
        for (k = 0; k < kk; k++) {
            const int32_t v = (int32_t)(a * lr_s8(t[k]) + b);
            if (split) {
                const int32_t lo = lr_s8((unsigned char)((uint32_t)v & 0xffu));
                wi[k] = (int16_t)lo;
                wi[plane + (size_t)k] = (int16_t)((v - lo) / 256);
            } else {
                wi[k] = (int16_t)v;
            }
        }
    }
    permute(w, g->cin_g * kk);
    if (split) {
        permute(w + plane, g->cin_g * kk);
    }
    return 1;
}

/* Output channel o's kernels as int32 in w, as the reference. */
static void rebuild32(const lr_geom *g, const lr_linrep_s8_params *p, const unsigned char *mask, int32_t o,
                      uint32_t *kept, int32_t *w)
{
    const int32_t kk = g->kh * g->kw, e = lr_s8(p->bexp[o]);
    int32_t i, k;
    for (i = 0; i < g->cin_g; i++) {
        int32_t *wi = w + i * kk;
        const unsigned char *t;
        int64_t a, b;
        if (!lr_kept(mask, (uint32_t)(o * g->cin_g + i))) {
            for (k = 0; k < kk; k++) {
                wi[k] = 0;
            }
            continue;
        }
        next_ab(p, e, kept, &a, &b, &t, kk);
        for (k = 0; k < kk; k++) {
            wi[k] = (int32_t)(a * lr_s8(t[k]) + b);
        }
    }
}

/* acc[c][q] += dot(int16 kernels of channel c, column q) for the two channels at w0, w1 (per values each, in
 * permute's order) and the interleaved columns at col: the dense opt conv's dot products with int16 weights. */
static void dot16(const int16_t *w0, const int16_t *w1, int32_t per, const int32_t *col, int32_t acc[4])
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    const int32_t nfull = per & ~3;
    const int16_t *tail = (const int16_t *)(const void *)(col + nfull);
    int32_t k = 0;
    for (; k < nfull; k += 4) {
#if LR_DSP
        const int16x2_t wa02 = (int16x2_t)lr_ld32(w0 + k), wa13 = (int16x2_t)lr_ld32(w0 + k + 2);
        const int16x2_t wb02 = (int16x2_t)lr_ld32(w1 + k), wb13 = (int16x2_t)lr_ld32(w1 + k + 2);
        const int16x2_t p0a = col[0], p1a = col[1], p0b = col[2], p1b = col[3];
        a00 = __smlad(wa02, p0a, a00);
        a01 = __smlad(wa02, p1a, a01);
        a00 = __smlad(wa13, p0b, a00);
        a01 = __smlad(wa13, p1b, a01);
        a10 = __smlad(wb02, p0a, a10);
        a11 = __smlad(wb02, p1a, a11);
        a10 = __smlad(wb13, p0b, a10);
        a11 = __smlad(wb13, p1b, a11);
#else
        const int16_t *c = (const int16_t *)(const void *)col;
        const int16_t *wa = w0 + k, *wb = w1 + k;
        a00 += wa[0] * c[0] + wa[1] * c[1] + wa[2] * c[4] + wa[3] * c[5];
        a01 += wa[0] * c[2] + wa[1] * c[3] + wa[2] * c[6] + wa[3] * c[7];
        a10 += wb[0] * c[0] + wb[1] * c[1] + wb[2] * c[4] + wb[3] * c[5];
        a11 += wb[0] * c[2] + wb[1] * c[3] + wb[2] * c[6] + wb[3] * c[7];
#endif
        col += 4;
    }
    for (; k < per; k++, tail += 2) {
        const int32_t wa = w0[k], wb = w1[k];
        a00 += wa * tail[0];
        a01 += wa * tail[1];
        a10 += wb * tail[0];
        a11 += wb * tail[1];
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

#if LR_DSP && defined(__GNUC__) && !defined(__OPTIMIZE_SIZE__)
#define LR_ILV 1 /* DSP builds: each pair of a block's channels interleaved, dot16x in assembly */
#else
#define LR_ILV 0
#endif

/* per_channel below: the -O2 DSP build (dot16x), and every -Os build or build without the fast paths; the portable
 * path at -O2 with the fast paths (the M3, the host) keeps every block (its lr_opt_chan3 has no SIMD pairs: slower there) */
#if LR_ILV
#define LR_CHAN3_NB1 2
#define LR_CHAN3_NB2 4
#elif LR_DSP || !LR_OPT_FAST || defined(__OPTIMIZE_SIZE__)
#define LR_CHAN3_NB1 24
#define LR_CHAN3_NB2 4
#else
#define LR_CHAN3_NB1 0
#define LR_CHAN3_NB2 0
#endif

#if LR_ILV
/* The pair of channels at w (2 * per int16, each in permute's order) interleaved in place, through tmp (per words,
 * the columns' room, free while the kernels are rebuilt): per whole group of four taps, channel 0's four values
 * then channel 1's -- the words (w0, w2), (w1, w3) of each -- then the last per % 4 taps as (channel 0, channel 1)
 * pairs. */
static void interleave(int16_t *w, int32_t per, int16_t *tmp)
{
    const int32_t nfull = per & ~3;
    int32_t k;
    for (k = 0; k < nfull; k += 4) {
        memcpy(tmp + 2 * k, w + k, 4 * sizeof *w);
        memcpy(tmp + 2 * k + 4, w + per + k, 4 * sizeof *w);
    }
    for (k = nfull; k < per; k++) {
        tmp[2 * k] = w[k];
        tmp[2 * k + 1] = w[per + k];
    }
    memcpy(w, tmp, 2u * (size_t)per * sizeof *w);
}

/* dot16 for an interleaved pair at w: per group of four taps one LDM of the two channels' four weight words, two
 * LDRDs of the columns, eight SMLADs (13 instructions per 16 multiply-adds with the loop). */
static void dot16x(const int16_t *w, int32_t per, const int32_t *col, int32_t acc[4])
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    const int32_t nfull = per & ~3;
    const int16_t *tw = w + 2 * nfull, *tail = (const int16_t *)(const void *)(col + nfull);
    int32_t k;
    if (nfull > 0) {
        const int32_t *cend = col + nfull;
        const int16_t *wp = w;
        const int32_t *cp = col;
        register int32_t w0 __asm__("r8"), w1 __asm__("r9"), w2 __asm__("r10"), w3 __asm__("r11");
        int32_t c0, c1;
        __asm__ volatile("1:\n\t"
                         "ldm %[wp]!, {%[w0], %[w1], %[w2], %[w3]}\n\t"
                         "ldrd %[c0], %[c1], [%[cp]], #8\n\t"
                         "smlad %[a00], %[w0], %[c0], %[a00]\n\t"
                         "smlad %[a01], %[w0], %[c1], %[a01]\n\t"
                         "smlad %[a10], %[w2], %[c0], %[a10]\n\t"
                         "smlad %[a11], %[w2], %[c1], %[a11]\n\t"
                         "ldrd %[c0], %[c1], [%[cp]], #8\n\t"
                         "smlad %[a00], %[w1], %[c0], %[a00]\n\t"
                         "smlad %[a01], %[w1], %[c1], %[a01]\n\t"
                         "smlad %[a10], %[w3], %[c0], %[a10]\n\t"
                         "smlad %[a11], %[w3], %[c1], %[a11]\n\t"
                         "cmp %[cp], %[cend]\n\t"
                         "bne 1b"
                         : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [wp] "+r"(wp),
                           [cp] "+r"(cp), [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3),
                           [c0] "=&r"(c0), [c1] "=&r"(c1)
                         : [cend] "r"(cend)
                         : "cc", "memory");
    }
    for (k = nfull; k < per; k++, tw += 2, tail += 2) {
        a00 += tw[0] * tail[0];
        a01 += tw[0] * tail[1];
        a10 += tw[1] * tail[0];
        a11 += tw[1] * tail[1];
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}
#endif

/* Channels o0 .. o0 + nb - 1 (one group, input xg) with their int16 kernels at w16 (split: the low planes;
 * the high ones at w16 + plane, weight 256). */
static void block16(const lr_geom *g, const int8_t *xg, const lr_linrep_s8_params *p, int32_t o0, int32_t nb,
                    const int16_t *w16, int split, size_t plane, int32_t *cols, int8_t *y, int ilv)
{
    const int32_t per = g->cin_g * g->kh * g->kw, npx = g->oh * g->ow;
    int32_t q, c, n;
    (void)ilv; /* interleaved pairs: DSP builds only (LR_ILV) */
    for (q = 0; q < npx; q += 2) {
        const int32_t nq = q + 1 < npx ? 2 : 1;
        lr_opt_im2col2(g, xg, q, p->in_offset, (int16_t *)(void *)cols);
        for (c = 0; c < nb; c += 2) {
            const int32_t nc = c + 1 < nb ? 2 : 1;
            const int16_t *wc = w16 + (size_t)c * (size_t)per, *wd = wc + (size_t)(nc - 1) * (size_t)per;
            int32_t acc[4], hi[4] = {0, 0, 0, 0};
            acc[0] = p->bias ? lr_opt_lei32(p->bias + 4u * (uint32_t)(o0 + c)) : 0;
            acc[1] = acc[0];
            acc[2] = p->bias ? lr_opt_lei32(p->bias + 4u * (uint32_t)(o0 + c + nc - 1)) : 0;
            acc[3] = acc[2];
#if LR_ILV
            if (ilv && nc == 2) {
                dot16x(wc, per, cols, acc);
            } else
#endif
                dot16(wc, wd, per, cols, acc);
            if (split) { /* the exact sum fits int32 (the verifier's bound); its two parts too */
                dot16(wc + plane, wd + plane, per, cols, hi);
                for (n = 0; n < 4; n++) {
                    acc[n] = (int32_t)((int64_t)acc[n] + (int64_t)hi[n] * 256);
                }
            }
            for (n = 0; n < nc; n++) {
                const uint32_t o = (uint32_t)(o0 + c + n);
                lr_opt_out2(acc[2 * n], acc[2 * n + 1], lr_rq_mult(&p->rq, o), lr_rq_shift(&p->rq, o), &p->rq,
                            y + (size_t)o * (size_t)npx + (size_t)q, nq);
            }
        }
    }
}

/* Three-wide kernels (kw = 3, dilation 1) of one output channel on little scratch: its kernels packed per kernel
 * row as four int16 (w0, w2, w1, 0) -- two words, (w0, w2) and (w1, 0) -- then the per-row sums of W
 * (sum over input channels and kx, kh int32), 2 * cin_g * kh + kh <= cin_g * kh * 3 words (the direct path's
 * least scratch, per words). Returns 0 (nothing written that matters) if some |W| > 32767. */
static LR_NOINLINE int rebuild_pk3(const lr_geom *g, const lr_linrep_s8_params *p, const unsigned char *mask, int32_t o,
                       uint32_t *kept, int16_t *pk, int32_t *rows)
{
    const int32_t kk = g->kh * 3, e = lr_s8(p->bexp[o]);
    int32_t i, ky, kx;
    for (ky = 0; ky < g->kh; ky++) {
        rows[ky] = 0;
    }
    for (i = 0; i < g->cin_g; i++) {
        int16_t *wi = pk + 4 * i * g->kh;
        const unsigned char *t;
        int64_t a, b;
        if (!lr_kept(mask, (uint32_t)(o * g->cin_g + i))) {
            for (kx = 0; kx < 4 * g->kh; kx++) {
                wi[kx] = 0;
            }
            continue;
        }
        next_ab(p, e, kept, &a, &b, &t, kk);
        if ((a < 0 ? -a : a) * 128 + (b < 0 ? -b : b) > 32767) { /* |W| <= |a| * 128 + |b| */
            return 0;
        }
        for (ky = 0; ky < g->kh; ky++) {
            const int32_t w0 = (int32_t)(a * lr_s8(t[3 * ky]) + b), w1 = (int32_t)(a * lr_s8(t[3 * ky + 1]) + b);
            const int32_t w2 = (int32_t)(a * lr_s8(t[3 * ky + 2]) + b);
            wi[4 * ky] = (int16_t)w0;
            wi[4 * ky + 1] = (int16_t)w2;
            wi[4 * ky + 2] = (int16_t)w1;
            wi[4 * ky + 3] = 0;
            rows[ky] += w0 + w1 + w2;
        }
    }
    return 1;
}

/* Whether lr_opt_chan3 applies: 3-wide kernels, dilation 1. */
static int three_wide(const lr_geom *g)
{
    return g->kw == 3 && g->dw == 1 && g->dh == 1;
}

/* Output channel o on `words` (>= per) of scratch with little room: packed 3-wide kernels if they apply and fit
 * int16, else its int32 kernels (lr_conv2d_channel_s8_opt). Returns the kept count. */
static uint32_t run_channel(const lr_geom *g, const int8_t *xg, const lr_linrep_s8_params *p, const unsigned char *mask,
                            int32_t o, uint32_t kept, int32_t *scratch, int8_t *y)
{
    const int32_t npx = g->oh * g->ow;
    const uint32_t kept0 = kept;
    if (three_wide(g)) {
        int32_t *rows = scratch;
        int16_t *pk = (int16_t *)(void *)(scratch + g->kh); /* 2 * cin_g * kh words */
        if (rebuild_pk3(g, p, mask, o, &kept, pk, rows)) {
            lr_opt_chan3(g, xg, pk, rows, p->bias ? lr_opt_lei32(p->bias + 4u * (uint32_t)o) : 0, p->in_offset, &p->rq,
                         (uint32_t)o, y + (size_t)o * (size_t)npx);
            return kept;
        }
        kept = kept0;
    }
    rebuild32(g, p, mask, o, &kept, scratch);
    lr_conv2d_channel_s8_opt(g, xg, scratch, p->bias ? lr_lei32(p->bias + 4u * (uint32_t)o) : 0, p->in_offset,
                             lr_rq_mult(&p->rq, (uint32_t)o), lr_rq_shift(&p->rq, (uint32_t)o), &p->rq,
                             y + (size_t)o * (size_t)npx);
    return kept;
}

/* Whether a block of nb channels runs per channel (run_channel: lr_opt_chan3) instead of block16, which gathers the
 * block's im2col columns once per block and so pays ~G / nb instructions per multiply-add for them, beside ~1 - 2.3
 * for its dot products (two channels at a time: a block of one computes a second copy). lr_opt_chan3 (3-wide kernels,
 * dilation 1) reads the int8 input without columns: ~1.5 - 4 per multiply-add at stride 1 (pair3), ~2 - 6 at
 * stride 2 (pair3s2, DSP cores), more at other strides. G is ~2 with the fast paths (the constant-position gathers)
 * and 30 - 50 without (lr_opt_im2col's generic loop). So blocks of up to LR_CHAN3_NB1 channels (stride 1)
 * or LR_CHAN3_NB2 (other strides) run per channel: the small blocks of a least-arena plan and every depthwise conv
 * (one channel per group). Measured on the int8 zoo networks (make build-levels): ds_cnn_kws's depthwise layers
 * take 4.3x fewer instructions at -O2; at -Os the SE net 3.8x, ds_cnn_kws 2.1x fewer; none 0.1 % more. Blocks of one
 * or two one-input-channel kernels (depthwise convs) run per channel in every build: their columns take the generic
 * gather whatever the build (the constant-position ones need four input channels), ~490 instructions per output
 * on the Cortex-M3 at stride 2; so do such blocks of other kernels (5 x 5 and 7 x 7 depthwise convs without the wide
 * padded plane: -Os builds, little scratch; dilated ones), by their int32 kernels and lr_conv2d_channel_s8_opt
 * (15-19 per multiply-add on MobileNetV3-small's 5 x 5 layers against block16's 36). */
static int per_channel(const lr_geom *g, int32_t nb)
{
    return ((nb <= (g->sw == 1 ? LR_CHAN3_NB1 : LR_CHAN3_NB2) || (g->cin_g == 1 && nb <= 2)) && three_wide(g)) ||
           (g->cin_g == 1 && nb <= 2);
}

#if LR_OPT_FAST
/* Blocks of up to LR_PLANE_NB channels of one input channel, 3 x 3, kh x 5 or kh x 7 (lr_conv2d_s8_opt_plane_words),
 * stride 1 (or 2, depthwise), dilation 1 (every depthwise LinRep conv, a one-channel stem's small blocks) take the
 * dense conv's one-channel kernel (lr_opt_plane3x3, lr_opt_plane_wide) on a padded copy of the input channel, when the
 * scratch holds it and one channel's kernels: no border pixels, every pixel pair from one or two words per kernel
 * row. A 5 x 5 depthwise conv otherwise gathers generic im2col columns per block of one (block16): ~36 instructions
 * per multiply-add.
 * lr_opt_chan3 pays a call, the row bounds and the border pairs per pixel pair: ~127 instructions per output on a
 * keyword-spotting net's 25 x 5 maps. The blocks:
 * as per_channel's at stride 1, at least 2 (a one-channel stem's large blocks keep block16; the cost model prices
 * them so). */
#define LR_PLANE_NB (LR_CHAN3_NB1 > 2 ? LR_CHAN3_NB1 : 2)


/* Channels o0 .. o0 + nb - 1 of one group on the padded plane (plane words at scratch, then kk = kh * kw for a
 * channel's kernels; border 0: the scratch holds the previous group's plane, whose border this one keeps): W rebuilt
 * as int32 and run as int16 (lr_opt_plane3x3, lr_opt_plane_wide) where they fit, else run_channel on the kk words after
 * the plane. Returns the kept count. */
static LR_NOINLINE uint32_t plane_block(const lr_geom *g, const int8_t *xg, const lr_linrep_s8_params *p,
                                        const unsigned char *mask, int32_t o0, int32_t nb, uint32_t kept,
                                        int32_t *scratch, uint64_t plane, int border, int8_t *y)
{
#if LR_OPT_WIDE
    const int wide = g->kw != 3;
#endif
    const int32_t kk = g->kh * g->kw;
    int32_t *w32 = scratch + plane;
    lr_geom gp;
    int32_t c, k;
#if LR_OPT_WIDE
    if (wide) {
        lr_opt_plane_wide_geom(g, &gp);
    } else
#endif
    {
        lr_opt_plane_geom(g, &gp);
    }
    lr_opt_pad_plane(g, xg, -g->pt, gp.h, gp.w, (int8_t)-p->in_offset, (int8_t *)(void *)scratch, border);
    for (c = 0; c < nb; c++) {
        const int32_t o = o0 + c;
        const uint32_t kept0 = kept;
        int16_t w16[7 * LR_PLANE_WIDE_KH];
        int fits = 1;
        rebuild32(g, p, mask, o, &kept, w32);
        for (k = 0; k < kk; k++) {
            fits &= w32[k] >= -32768 && w32[k] <= 32767;
            w16[k] = (int16_t)w32[k]; /* used only if all fit */
        }
        if (!fits) {
            kept = run_channel(g, xg, p, mask, o, kept0, w32, y);
            continue;
        }
#if LR_OPT_WIDE
        (wide ? lr_opt_plane_wide : lr_opt_plane3x3)
#else
        lr_opt_plane3x3
#endif
            (&gp, (const int8_t *)(const void *)scratch, w16, p->bias ? lr_opt_lei32(p->bias + 4u * (uint32_t)o) : 0,
             p->in_offset, &p->rq, (uint32_t)o, y + (size_t)o * (size_t)(g->oh * g->ow));
    }
    return kept;
}
#endif

uint64_t lr_linrep_conv2d_direct_s8_scratch_pref(const lr_geom *g)
{
    const uint64_t cols = lr_linrep_conv2d_direct_s8_scratch((uint32_t)(g->cin_g * g->kh * g->kw), (uint32_t)g->cout_g);
#if LR_OPT_FAST
    const uint64_t plane = g->cout_g <= LR_PLANE_NB ? lr_conv2d_s8_opt_plane_words(g) : 0u;
    const uint64_t kk = (uint64_t)g->kh * (uint64_t)g->kw;
    return plane != 0u && plane + kk > cols ? plane + kk : cols; /* the plane and one channel's int32 kernels */
#else
    return cols;
#endif
}

/* Channels o0 .. o0 + nb - 1 of one group: small blocks per channel (per_channel), else int16 kernels (nb <= the
 * block), else split planes (half the block at a time, when `words` hold them), else per channel with int32
 * kernels. Returns the kept count. */
static uint32_t run_block(const lr_geom *g, const int8_t *xg, const lr_linrep_s8_params *p, const unsigned char *mask,
                          int32_t o0, int32_t nb, uint32_t kept, int32_t *scratch, uint32_t words, int8_t *y)
{
    const int32_t per = g->cin_g * g->kh * g->kw;
    const int32_t half = nb > 1 ? nb / 2 : 1; /* two planes of half channels: within the block's scratch */
    int32_t *cols = scratch;
    int16_t *w16 = (int16_t *)(void *)(scratch + per);
    const uint32_t kept0 = kept;
    /* int16 values the scratch holds beside the columns */
    const uint64_t room = words > (uint32_t)per ? 2u * ((uint64_t)words - (uint32_t)per) : 0u;
    int32_t c, s;
    int fits = (uint64_t)nb * (uint64_t)per <= room;
    if (per_channel(g, nb)) {
        for (c = 0; c < nb; c++) {
            kept = run_channel(g, xg, p, mask, o0 + c, kept, scratch, y);
        }
        return kept;
    }
    for (c = 0; c < nb && fits; c++) {
        fits = rebuild16(g, p, mask, o0 + c, &kept, w16 + (size_t)c * (size_t)per, 0, 0u);
    }
    if (fits) {
#if LR_ILV
        for (c = 0; c + 1 < nb; c += 2) {
            interleave(w16 + (size_t)c * (size_t)per, per, (int16_t *)(void *)cols);
        }
#endif
        block16(g, xg, p, o0, nb, w16, 0, 0u, cols, y, LR_ILV);
        return kept;
    }
    kept = kept0;
    for (s = 0; s < nb; s += half) {
        const int32_t ns = nb - s < half ? nb - s : half;
        const size_t plane = (size_t)ns * (size_t)per;
        const uint32_t kept1 = kept;
        fits = 2u * (uint64_t)plane <= room; /* else per channel */
        for (c = 0; c < ns && fits; c++) {
            fits = rebuild16(g, p, mask, o0 + s + c, &kept, w16 + (size_t)c * (size_t)per, 1, plane);
        }
        if (fits) {
            block16(g, xg, p, o0 + s, ns, w16, 1, plane, cols, y, 0);
            continue;
        }
        kept = kept1;
        for (c = 0; c < ns; c++) {
            kept = run_channel(g, xg, p, mask, o0 + s + c, kept, scratch, y);
        }
    }
    return kept;
}

/* The block of output channels from o0: `block` channels, cut at the group's end (block 0: one, int32 kernels). */
static int32_t block_at(const lr_geom *g, int32_t o0, int32_t block)
{
    const int32_t end = (o0 / g->cout_g + 1) * g->cout_g;
    return end - o0 < block ? end - o0 : block > 0 ? block : 1;
}

void lr_linrep_conv2d_direct_s8_opt(const lr_geom *g, const int8_t *x, const lr_linrep_s8_params *p,
                                    int32_t *scratch, uint32_t words, int8_t *y)
{
    const int32_t hw = g->h * g->w;
    const unsigned char *mask = p->lr.mask ? p->blob + p->lr.mask : NULL;
    const int32_t block = (int32_t)lr_direct_s8_block((uint32_t)(g->cin_g * g->kh * g->kw), (uint32_t)g->cout_g, words);
    uint32_t kept = 0u; /* kernels kept so far: the position of the next one's index and a/b */
    int32_t o0 = 0, nb;
#if LR_OPT_FAST
    /* one input channel, 3 x 3, kh x 5 or kh x 7, in blocks (block <= cout_g) of up to LR_PLANE_NB channels: the padded
     * plane for the whole layer, if it fits (tested once per layer: a test per block costs ~11 instructions each) */
    const uint64_t pw = g->cin_g == 1 && block <= LR_PLANE_NB ? lr_conv2d_s8_opt_plane_words(g) : 0u;
    if (pw != 0u && words >= pw + (uint64_t)(g->kh * g->kw)) {
        for (; o0 < g->oc; o0 += nb) {
            nb = block_at(g, o0, block);
            kept = plane_block(g, x + (size_t)(o0 / g->cout_g) * (size_t)hw, p, mask, o0, nb, kept, scratch, pw, o0 == 0,
                               y);
        }
        return;
    }
#endif
    for (; o0 < g->oc; o0 += nb) { /* blocks of `block` channels, cut at the groups' ends */
        nb = block_at(g, o0, block);
        kept = run_block(g, x + (size_t)(o0 / g->cout_g * g->cin_g) * (size_t)hw, p, mask, o0, nb, kept, scratch, words,
                         y);
    }
}
