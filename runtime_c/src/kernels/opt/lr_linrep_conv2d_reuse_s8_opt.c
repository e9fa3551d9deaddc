/*
 * lr_linrep_conv2d_reuse_s8_opt.c -- LINREP_CONV2D of an int8 model, template reuse, optimised (equal to
 * lr_linrep_conv2d_reuse_s8_ref bit for bit; the same exact integer acc as the direct path).
 *
 * The output is computed a tile of whole output rows at a time (as many rows as the scratch holds, at
 * least one). Per tile and input channel i:
 *  1. the kernels (o, i) of the group's output channels are decoded once: template j, a' = a_q 2^max(0, -e),
 *     b' = b_q 2^max(0, e); each distinct template gets a response slot (at most min(K, cout_g));
 *  2. responses as a dense conv of one input channel with the used templates as its output channels: each
 *     output pixel's im2col column (kh * kw values x + in_offset, 0 outside the input, padded with a 0 to
 *     an even length) is dotted with the templates widened once per call to int16 (with the DSP extension
 *     two multiply-adds per SMLAD), and with an all-ones template: the box sum S;
 *  3. every kept kernel (o, i) adds a' * R[slot] + b' * S to its output channel's tile of accumulators.
 * Integer sums are exact in any order: the verifier's bound |a'| * sum |t| * 255 + |b'| * kh * kw * 255
 * < 2^31 makes b' fit int32, and a' too unless the template is all zeros (then R = 0 and a' is not
 * needed); a' R + b' S is a sum of W * (x + in_offset) terms and every partial sum of acc is bounded by
 * the verifier's |bias| + 255 * sum |W| < 2^31. Pruned kernels (kernel mask) add nothing, as in the
 * reference: a kept kernel's index and a/b are at its rank among the kept kernels.
 *
 * Scratch (int32 words), with kk = kh * kw, per = kk rounded up to even, ns = min(K, cout_g):
 *  fixed:    T16 [(K + 1) * per / 2] (int16 templates and the ones template), slot [K], used [ns],
 *            job [4 cout_g + 1] (decode), pos, base [cout_g each], tptr [ns + 2], col [per / 2];
 *  per pixel of the tile: acc [cout_g], S [1], R [ns];
 *  3 x 3 kernels with dilation 1 in x, per tile of nr rows: the padded plane, ((nr - 1) sh + 2 dh + 1) rows of
 *            pw = (ow - 1) sw + 4 bytes (pad_words); where the words allow (not in -Os builds), the column words,
 *            5 per pixel (cols_words), and the paired step's second channel, S pairs and jobs (pair_words).
 * lr_linrep_conv2d_reuse_s8_opt_scratch_min: the fixed part and one output row (and its plane); the kernel
 * takes as many rows per tile as the words it is given hold (lr_linrep_conv2d_reuse_s8_opt_scratch: a tile of
 * at least LR_REUSE_S8_TILE_PX pixels, the default the run path gives). Given fewer words than the minimum it
 * writes nothing (neither y nor past the scratch).
 * 3 x 3 kernels with dilation 1 in x take a specialised path: per tile and input channel the rows the tile reads
 * are copied into a plane padded with -in_offset (the value x + in_offset = 0 of a tap outside the input; an
 * int8 since in_offset = -zp_in), so that every pixel's column comes from three word loads, taps in the order
 * SXTAB16 produces them (P9). Given room (tile_rows picks the mode), each pixel's column words are written once and
 * every template runs over them (tmpl_cols: 7.5 instructions per template and pixel on DSP cores, 11 in row9_in
 * without), and step 3 takes input channels two at a time (combine2: 2.5 per kernel and pixel, 4 in combine).
 */
#include "kernels/lr_opt_s8.h"

/* The loops written out in assembly (row9_in, cols9, tmpl_cols, combine, combine2): DSP cores, GCC, with optimisation
 * (they take thirteen or fourteen registers). */
#if LR_DSP && defined(__GNUC__) && defined(__OPTIMIZE__)
#define LR_REUSE_ASM 1
#else
#define LR_REUSE_ASM 0
#endif

/* The template-stationary path (cols9, tmpl_cols; column words in the preferred scratch): a fast path, not in
 * size-optimised builds (LR_OPT_FAST). */
#define LR_REUSE_COLS LR_OPT_FAST


/* ns: the response slots, min(K, cout_g) */
static uint64_t slots(const lr_geom *g, uint32_t k)
{
    return k < (uint32_t)g->cout_g ? k : (uint64_t)g->cout_g;
}

static uint64_t fixed_words(const lr_geom *g, uint32_t k, uint64_t *px_words)
{
    const uint64_t per = ((uint64_t)g->kh * (uint64_t)g->kw + 1u) & ~(uint64_t)1u, ns = slots(g, k);
    *px_words = (uint64_t)g->cout_g + 1u + ns;
    return (k + 1u) * per / 2u + k + 2u * ns + 3u + 6u * (uint64_t)g->cout_g + per / 2u;
}

/* 3 x 3 kernels with dilation 1 in x: a tile's input rows of one input channel can be copied into a plane padded with
 * the value that contributes 0 (-in_offset, an int8 as the zero point is), pw = (ow - 1) sw + 4 bytes wide (the
 * last pixel's three taps and the fourth byte col9_in reads), so that every pixel of the tile takes row9_in. The
 * plane's words for a tile of nr output rows (0: the geometry does not take it). */
static uint64_t pad_words(const lr_geom *g, uint64_t nr)
{
    if (g->kh != 3 || g->kw != 3 || g->dw != 1 || nr < 1u) {
        return 0u;
    }
    return (((nr - 1u) * (uint64_t)g->sh + 2u * (uint64_t)g->dh + 1u) * ((uint64_t)(g->ow - 1) * (uint64_t)g->sw + 4u) +
            3u) / 4u;
}

/* The column words of a tile of nr rows for the template-stationary loop (tmpl_cols; 3 x 3 kernels with the padded
 * plane only): five words per pixel. */
static uint64_t cols_words(const lr_geom *g, uint64_t nr)
{
    return LR_REUSE_COLS && pad_words(g, 1u) > 0u ? 5u * nr * (uint64_t)g->ow : 0u;
}

/* The words of the paired-channel step (combine2: input channels i and i + 1 at once) for a tile of nr rows, with the
 * column words only: the second channel's S and responses ((ns + 1) tile), the S pairs (tile), its job list
 * (4 cout_g + 1) and the paired jobs (6 cout_g + 1); 0 for a single input channel per group. */
static uint64_t pair_words(const lr_geom *g, uint32_t k, uint64_t nr)
{
    if (cols_words(g, 1u) == 0u || g->cin_g < 2) {
        return 0u;
    }
    return (slots(g, k) + 2u) * nr * (uint64_t)g->ow + 10u * (uint64_t)g->cout_g + 2u;
}

/* a / b (b > 0) in 32 bits: no 64-bit division routine is linked or runs per call (a library call on every
 * Cortex-M). a is at most 2^32 - 1 for any scratch a blob can ask for (LR_MAX_BLOB_BYTES); beyond, it is taken as
 * that, which can only give fewer tile rows (less scratch used, the same results); b >= 2^32 gives 0. */
static uint64_t div_u64(uint64_t a, uint64_t b)
{
    return (b >> 32) != 0u ? 0u : (uint64_t)((uint32_t)(a > 0xFFFFFFFFu ? 0xFFFFFFFFu : a) / (uint32_t)b);
}

/* The words a tile of nr rows takes besides the fixed part and acc, S and R in mode m (tile_rows): the padded plane,
 * the column words (m >= 1), the paired step's (m == 2). */
static uint64_t extra_words(const lr_geom *g, uint32_t k, uint64_t nr, int m)
{
    return pad_words(g, nr) + (m >= 1 ? cols_words(g, nr) : 0u) + (m == 2 ? pair_words(g, k, nr) : 0u);
}

/* The tile rows a plane-path (3 x 3) call takes from `words`, and its mode: 2 with the column words and the paired
 * step, 1 with the column words only, 0 with neither; each mode with as many rows as fit, the one of least estimated
 * instructions (M4F, per group): every kernel once per tile (about 90 each: its decode and job), per output pixel and input
 * channel its templates and box sum (11 each in mode 0; 8 each and 15 for the column words in modes 1 and 2), per
 * kernel and pixel a' R + b' S (4 in modes 0 and 1, 2.5 in mode 2). */
static int32_t tile_rows(const lr_geom *g, uint32_t k, uint64_t fixed, uint64_t pxw, uint64_t words, int *mode)
{
#if !LR_REUSE_COLS /* mode 0 only: as many rows as fit */
    const uint64_t per_row = pxw * (uint64_t)g->ow;
    uint64_t n = words > fixed ? div_u64(words - fixed, per_row) : 0u;
    (void)k;
    *mode = 0;
    n = n > (uint64_t)g->oh ? (uint64_t)g->oh : n;
    while (n >= 1u && fixed + per_row * n + pad_words(g, n) > words) {
        n--;
    }
    return (int32_t)n;
#else
    const uint64_t per_row = pxw * (uint64_t)g->ow, ns = slots(g, k);
    const uint64_t cin = (uint64_t)g->cin_g, kern = cin * (uint64_t)g->cout_g, px = (uint64_t)g->oh * (uint64_t)g->ow;
    uint64_t best = 0u, r_best = 0u;
    int m;
    *mode = 0;
    for (m = 0; m < 3; m++) {
        const int avail = m == 0 || (m == 1 ? cols_words(g, 1u) > 0u : pair_words(g, k, 1u) > 0u);
        uint64_t n = words > fixed ? div_u64(words - fixed, per_row) : 0u, cost;
        n = n > (uint64_t)g->oh ? (uint64_t)g->oh : n;
        while (avail && n >= 1u && fixed + per_row * n + extra_words(g, k, n, m) > words) {
            n--;
        }
        if (!avail || n < 1u) {
            continue;
        }
        cost = div_u64((uint64_t)g->oh + n - 1u, n) * 900u * kern +
               px * (cin * (m == 0 ? 110u * (ns + 1u) : 80u * (ns + 1u) + 150u) + kern * (m == 2 ? 25u : 40u));
        if (r_best == 0u || cost < best) {
            best = cost;
            r_best = n;
            *mode = m;
        }
    }
    return (int32_t)r_best;
#endif
}

uint64_t lr_linrep_conv2d_reuse_s8_opt_scratch_min(const lr_geom *g, uint32_t k)
{
    uint64_t pxw;
    const uint64_t f = fixed_words(g, k, &pxw);
    return f + pxw * (uint64_t)g->ow + extra_words(g, k, 1u, 0);
}

uint64_t lr_linrep_conv2d_reuse_s8_opt_scratch_fast(const lr_geom *g, uint32_t k)
{
    uint64_t pxw;
    const uint64_t f = fixed_words(g, k, &pxw);
    return f + pxw * (uint64_t)g->ow + extra_words(g, k, 1u, 1);
}

uint64_t lr_linrep_conv2d_reuse_s8_opt_scratch(const lr_geom *g, uint32_t k)
{
    uint64_t pxw;
    const uint64_t f = fixed_words(g, k, &pxw);
    uint64_t rows = g->ow > 0 ? ((uint32_t)LR_REUSE_S8_TILE_PX + (uint32_t)g->ow - 1u) / (uint32_t)g->ow : 1u; /* 32-bit */
    rows = rows > (uint64_t)g->oh ? (uint64_t)g->oh : rows;
    rows = rows < 1u ? 1u : rows;
    return f + pxw * (uint64_t)g->ow * rows + extra_words(g, k, rows, 2);
}

/* Column of output pixel (oy, ox) of one input plane xc: col[k] = x + in_offset (0 outside), k = ky * kw + kx,
 * then zeros up to per. Interior pixels (every tap inside) skip the tests. */
static void im2col1(const lr_geom *g, const int8_t *xc, int32_t oy, int32_t ox, int32_t in_offset, int32_t per,
                    int16_t *col)
{
    const int32_t iy0 = oy * g->sh - g->pt, ix0 = ox * g->sw - g->pl;
    int16_t *p = col;
    int32_t ky, kx;
#if LR_OPT_FAST /* interior pixels without the tests; size-optimised builds take the tests everywhere */
    if (iy0 >= 0 && iy0 + (g->kh - 1) * g->dh < g->h && ix0 >= 0 && ix0 + (g->kw - 1) * g->dw < g->w) {
        const int8_t *xr = xc + iy0 * g->w + ix0;
        if (g->kw == 3 && g->dw == 1) {
            for (ky = 0; ky < g->kh; ky++, xr += g->dh * g->w) {
                p[0] = (int16_t)(xr[0] + in_offset);
                p[1] = (int16_t)(xr[1] + in_offset);
                p[2] = (int16_t)(xr[2] + in_offset);
                p += 3;
            }
        } else {
            for (ky = 0; ky < g->kh; ky++, xr += g->dh * g->w) {
                for (kx = 0; kx < g->kw; kx++) {
                    *p++ = (int16_t)(xr[kx * g->dw] + in_offset);
                }
            }
        }
    } else
#endif
    {
        for (ky = 0; ky < g->kh; ky++) {
            const int32_t iy = iy0 + ky * g->dh;
            const int row_in = iy >= 0 && iy < g->h;
            for (kx = 0; kx < g->kw; kx++) {
                const int32_t ix = ix0 + kx * g->dw;
                *p++ = (int16_t)(row_in && ix >= 0 && ix < g->w ? (int32_t)xc[iy * g->w + ix] + in_offset : 0);
            }
        }
    }
    for (ky = g->kh * g->kw; ky < per; ky++) {
        col[ky] = 0;
    }
}

/* sum over nw words of t and c, each word two int16 values: t[2w] c[2w] + t[2w + 1] c[2w + 1]. */
static int32_t dot16(const int16_t *t, const int16_t *c, int32_t nw)
{
    int32_t acc = 0, w = 0;
#if LR_DSP
    for (; w + 5 <= nw; w += 5) { /* 3 x 3 kernels: five words */
        acc = __smlad((int16x2_t)lr_ld32(t + 2 * w), (int16x2_t)lr_ld32(c + 2 * w), acc);
        acc = __smlad((int16x2_t)lr_ld32(t + 2 * w + 2), (int16x2_t)lr_ld32(c + 2 * w + 2), acc);
        acc = __smlad((int16x2_t)lr_ld32(t + 2 * w + 4), (int16x2_t)lr_ld32(c + 2 * w + 4), acc);
        acc = __smlad((int16x2_t)lr_ld32(t + 2 * w + 6), (int16x2_t)lr_ld32(c + 2 * w + 6), acc);
        acc = __smlad((int16x2_t)lr_ld32(t + 2 * w + 8), (int16x2_t)lr_ld32(c + 2 * w + 8), acc);
    }
    for (; w < nw; w++) {
        acc = __smlad((int16x2_t)lr_ld32(t + 2 * w), (int16x2_t)lr_ld32(c + 2 * w), acc);
    }
#else
    for (; w < nw; w++) {
        acc += (int32_t)t[2 * w] * c[2 * w] + (int32_t)t[2 * w + 1] * c[2 * w + 1];
    }
#endif
    return acc;
}

/* 3 x 3 kernels: taps in the order P9 (pairs (0, 2), (3, 5), (6, 8), (1, 4), (7, pad)), the order in which SXTAB16
 * gives a row's bytes; templates and columns use the same order, so five SMLADs take the dot product. */
static const unsigned char P9[10] = {0u, 2u, 3u, 5u, 6u, 8u, 1u, 4u, 7u, 9u};

/* The same for a pixel whose taps are all inside, kw = 3 and dilation 1 in x: rows at x0, x1, x2, each read as
 * one word (4 bytes: the caller makes sure the fourth is inside the plane). With the DSP extension 3 loads and 6
 * SXTAB16 (bytes (0, 2) and (1, 3) of each word plus in_offset); elsewhere the same packing in C. */
static inline void col9_in(const int8_t *x0, const int8_t *x1, const int8_t *x2, int32_t in_offset, uint32_t cw[5])
{
    const uint32_t v0 = lr_ld32(x0), v1 = lr_ld32(x1), v2 = lr_ld32(x2);
#if LR_DSP
    const int16x2_t off = (int16x2_t)(((uint32_t)in_offset & 0xffffu) | ((uint32_t)in_offset << 16));
    const uint32_t e13a = (uint32_t)lr_sxa13(off, v0), e13b = (uint32_t)lr_sxa13(off, v1);
    cw[0] = (uint32_t)lr_sxa02(off, v0);
    cw[1] = (uint32_t)lr_sxa02(off, v1);
    cw[2] = (uint32_t)lr_sxa02(off, v2);
    cw[3] = (e13a & 0xffffu) | (e13b << 16);
    cw[4] = (uint32_t)lr_sxa13(off, v2) & 0xffffu;
#else
#define LR_B(v, k) ((uint32_t)(uint16_t)(int16_t)((int32_t)(int8_t)(uint8_t)((v) >> (8 * (k))) + in_offset))
    cw[0] = LR_B(v0, 0) | (LR_B(v0, 2) << 16);
    cw[1] = LR_B(v1, 0) | (LR_B(v1, 2) << 16);
    cw[2] = LR_B(v2, 0) | (LR_B(v2, 2) << 16);
    cw[3] = LR_B(v0, 1) | (LR_B(v1, 1) << 16);
    cw[4] = LR_B(v2, 1);
#undef LR_B
#endif
}

#if !LR_REUSE_ASM
/* Dot product of the ten int16 values at t (five pairs) with the column words c. */
static int32_t dot5(const int16_t *t, const uint32_t c[5])
{
#if LR_DSP
    int32_t acc = __smlad((int16x2_t)lr_ld32(t), (int16x2_t)c[0], 0);
    acc = __smlad((int16x2_t)lr_ld32(t + 2), (int16x2_t)c[1], acc);
    acc = __smlad((int16x2_t)lr_ld32(t + 4), (int16x2_t)c[2], acc);
    acc = __smlad((int16x2_t)lr_ld32(t + 6), (int16x2_t)c[3], acc);
    return __smlad((int16x2_t)lr_ld32(t + 8), (int16x2_t)c[4], acc);
#else
    int32_t acc = 0, k;
    for (k = 0; k < 5; k++) {
        acc += t[2 * k] * (int32_t)(int16_t)(c[k] & 0xffffu) + t[2 * k + 1] * (int32_t)(int16_t)(c[k] >> 16);
    }
    return acc;
#endif
}
#endif

/* The field of width w (at most 16) at bit `bit` of a little-endian bit stream (the bytes it spans, at most three). */
static inline uint32_t field_at(const unsigned char *bytes, uint32_t bit, uint32_t w)
{
    const unsigned char *b = bytes + (bit >> 3);
    const uint32_t sh = bit & 7u, end = sh + w;
    uint32_t v = b[0];
    if (end > 8u) {
        v |= (uint32_t)b[1] << 8;
        if (end > 16u) {
            v |= (uint32_t)b[2] << 16;
        }
    }
    return (v >> sh) & ((1u << w) - 1u);
}

/* field_at for a stream of nbytes bytes: one little-endian word load where four bytes from the field's first are
 * inside the stream (w + 7 < 32 bits), field_at near its end. */
static inline uint32_t field_in(const unsigned char *bytes, uint32_t nbytes, uint32_t bit, uint32_t w)
{
    const uint32_t at = bit >> 3;
    if (at + 4u <= nbytes) {
        return ((uint32_t)lr_opt_lei32(bytes + at) >> (bit & 7u)) & ((1u << w) - 1u);
    }
    return field_at(bytes, bit, w);
}

#if LR_OPT_FAST
/* How many fields from bit `bit` on, `step` bits apart, start four bytes or more before the end of a stream of
 * nbytes bytes (field_in's word load), at most n. */
static uint32_t fields_safe(uint32_t nbytes, uint32_t bit, uint32_t step, uint32_t n)
{
    uint32_t lim, k;
    if (nbytes < 4u || bit > 8u * (nbytes - 4u) + 7u) {
        return 0u;
    }
    lim = 8u * (nbytes - 4u) + 7u;
    k = step > 0u ? (lim - bit) / step + 1u : n;
    return k < n ? k : n;
}
#endif

/* Step 1 for input channel i of the group's cg output channels from channel oc0: a job per kept kernel (o, i) (pos[o]:
 * the kernel's rank among the kept ones, advanced; without a mask the rank is (oc0 + o) cin_g + i), four words:
 * the byte offset from the scratch of its template's response row (roff + slot * tile4), a', b' and the byte offset
 * of its output channel's accumulators (aoff + o * tile4); a 0 after the last. used[slot] the template of each slot;
 * returns the slots used. slot[] (per template, -1 when unused) is left all -1.
 * a' and b' are taken modulo 2^32 (a shift of 32 or more: 0): equal to a_q 2^max(0, -e), b_q 2^max(0, e) where they
 * fit int32, which the verifier's bound makes b' always and a' unless the template is all zeros (R = 0: a' unused).
 * Two passes, each with few live values: the raw fields (the index and the a/b pair of kernel o into words
 * 2 cg + 2 o and 2 cg + 2 o + 1 of job; -1: pruned), then slots and the jobs (job k <= o ends before word 2 cg + 2 o).
 * Without a mask pos holds the powers of two a_q and b_q are multiplied by (the caller's, once per group). */
static LR_NOINLINE int32_t decode(const lr_linrep_s8_params *p, const unsigned char *mask, int32_t oc0, int32_t cg,
                                  int32_t cin_g, int32_t i, int32_t *pos, int32_t *slot, int32_t *used, uint32_t *job,
                                  uint32_t roff, uint32_t aoff, uint32_t tile4)
{
    const unsigned char *idx = p->blob + p->lr.idx, *abq = p->blob + p->lr.abq, *bexp = p->bexp + oc0;
    const uint32_t bits = p->lr.bits, ab_bits = p->lr.ab_bits, ab2 = 2u * ab_bits; /* ab_bits <= 8 (verified) */
    const uint32_t amask = (1u << ab_bits) - 1u, sbit = 1u << (ab_bits - 1u);
    uint32_t *raw = job + 2 * cg, *jb = job;
    int32_t o, u, nu = 0;
#if LR_OPT_FAST
    if (mask == NULL) { /* kernel (oc0 + o, i) has rank (oc0 + o) cin_g + i */
        const uint32_t n0 = (uint32_t)(oc0 * cin_g + i), si = (uint32_t)cin_g * bits, sa = (uint32_t)cin_g * ab2;
        const uint32_t fi = fields_safe(p->lr.n_idx, n0 * bits, si, (uint32_t)cg);
        const uint32_t fa = fields_safe(p->lr.n_abq, n0 * ab2, sa, (uint32_t)cg);
        const int32_t nf = (int32_t)(fi < fa ? fi : fa);
        const uint32_t im = (1u << bits) - 1u, am = (1u << ab2) - 1u;
        uint32_t bi = n0 * bits, ba = n0 * ab2;
        for (o = 0; o < nf; o++, bi += si, ba += sa) {
            raw[2 * o] = ((uint32_t)lr_opt_lei32(idx + (bi >> 3)) >> (bi & 7u)) & im;
            raw[2 * o + 1] = ((uint32_t)lr_opt_lei32(abq + (ba >> 3)) >> (ba & 7u)) & am;
        }
        for (; o < cg; o++, bi += si, ba += sa) {
            raw[2 * o] = field_at(idx, bi, bits);
            raw[2 * o + 1] = field_at(abq, ba, ab2);
        }
    } else
#endif
    {
        for (o = 0; o < cg; o++) {
            uint32_t n;
            if (mask != NULL && !lr_kept(mask, (uint32_t)((oc0 + o) * cin_g + i))) {
                raw[2 * o] = 0xffffffffu;
                continue;
            }
            n = (uint32_t)pos[o];
            pos[o] = (int32_t)n + 1;
            raw[2 * o] = field_in(idx, p->lr.n_idx, n * bits, bits);
            raw[2 * o + 1] = field_in(abq, p->lr.n_abq, n * ab2, ab2); /* a (field 2n) and b (2n + 1) */
        }
    }
#if LR_OPT_FAST
    if (mask == NULL) { /* every kernel kept; pos holds 2^max(0, -e), 2^max(0, e) per output channel (0: 2^32 or more) */
        const uint32_t *mul = (const uint32_t *)(const void *)pos;
        uint32_t ao = aoff;
        for (o = 0; o < cg; o++, jb += 4, ao += tile4) {
            const uint32_t j = raw[2 * o], v = raw[2 * o + 1];
            const uint32_t aq = ((v & amask) ^ sbit) - sbit, bq = ((v >> ab_bits) ^ sbit) - sbit; /* sign-extended */
            int32_t sj = slot[j];
            if (sj < 0) {
                sj = nu;
                slot[j] = nu;
                used[nu++] = (int32_t)j;
            }
            jb[0] = roff + (uint32_t)sj * tile4;
            jb[1] = aq * mul[2 * o];
            jb[2] = bq * mul[2 * o + 1];
            jb[3] = ao;
        }
    } else
#endif
    { /* masked layers (and every layer in size-optimised builds): pruned kernels (-1) skipped, the multipliers
       * from the exponents */
        for (o = 0; o < cg; o++) {
            const uint32_t j = raw[2 * o], v = raw[2 * o + 1];
            const int32_t e = lr_s8(bexp[o]);
            const uint32_t ea = e < 0 ? (uint32_t)-e : 0u, eb = e > 0 ? (uint32_t)e : 0u;
            const uint32_t aq = ((v & amask) ^ sbit) - sbit, bq = ((v >> ab_bits) ^ sbit) - sbit; /* sign-extended */
            int32_t sj;
            if (j == 0xffffffffu) {
                continue;
            }
            sj = slot[j];
            if (sj < 0) {
                sj = nu;
                slot[j] = nu;
                used[nu++] = (int32_t)j;
            }
            jb[0] = roff + (uint32_t)sj * tile4;
            jb[1] = ea < 32u ? aq << ea : 0u;
            jb[2] = eb < 32u ? bq << eb : 0u;
            jb[3] = aoff + (uint32_t)o * tile4;
            jb += 4;
        }
    }
    *jb = 0u;
    for (u = 0; u < nu; u++) {
        slot[used[u]] = -1;
    }
    return nu;
}

/* S and the responses of n pixels of one output row of the padded plane (col9_in's conditions), the first one's rows
 * at x0, x0 + dhw, x0 + 2 dhw, stride sw: s[q], and r[u * tile + q] with r = s + tile (the kernel's layout). With
 * the DSP extension the loop over templates is written out: tptr holds the ones template's address (S is its
 * response, one tile before the first response), the used templates' addresses (word-aligned) and a 0; a template's
 * five words come in one LDM (r8..r12, the last also its address), the sum into r8: eleven instructions per
 * template and pixel. Thirteen registers: built with optimisation only (r7 free of the frame pointer). */
static LR_NOINLINE void row9_in(const int8_t *x0, int32_t dhw, int32_t sw, int32_t n, int32_t in_offset,
                                const int16_t *t16, const int16_t *ones, const int32_t *used, const uint32_t *tptr,
                                int32_t nu, int32_t *s, int32_t tile)
{
    int32_t q;
    for (q = 0; q < n; q++, x0 += sw) {
        uint32_t cw[5];
        col9_in(x0, x0 + dhw, x0 + 2 * dhw, in_offset, cw);
#if LR_REUSE_ASM
        {
            const uint32_t *lst = tptr;
            const uint32_t c0 = cw[0], c1 = cw[1], c2 = cw[2], c3 = cw[3], c4 = cw[4];
            const int32_t stride = 4 * tile;
            int32_t *rq = s + q;
            register uint32_t t0 __asm__("r8"), t1 __asm__("r9"), t2 __asm__("r10"), t3 __asm__("r11");
            register uint32_t t4 __asm__("r12");
            (void)t16;
            (void)ones;
            (void)used;
            (void)nu;
            __asm__ volatile("ldr %[t4], [%[lst]], #4\n\t"
                             "1:\n\t"
                             "ldm %[t4], {%[t0], %[t1], %[t2], %[t3], %[t4]}\n\t"
                             "smuad %[t0], %[t0], %[c0]\n\t"
                             "smlad %[t0], %[t1], %[c1], %[t0]\n\t"
                             "smlad %[t0], %[t2], %[c2], %[t0]\n\t"
                             "smlad %[t0], %[t3], %[c3], %[t0]\n\t"
                             "smlad %[t0], %[t4], %[c4], %[t0]\n\t"
                             "str %[t0], [%[rq]]\n\t"
                             "add %[rq], %[rq], %[stride]\n\t"
                             "ldr %[t4], [%[lst]], #4\n\t"
                             "cmp %[t4], #0\n\t"
                             "bne 1b"
                             : [lst] "+r"(lst), [rq] "+r"(rq), [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2),
                               [t3] "=&r"(t3), [t4] "=&r"(t4)
                             : [stride] "r"(stride), [c0] "r"(c0), [c1] "r"(c1), [c2] "r"(c2), [c3] "r"(c3),
                               [c4] "r"(c4)
                             : "cc", "memory");
        }
#else
        {
            int32_t u, *rq = s + tile + q;
            (void)tptr;
            s[q] = dot5(ones, cw);
            for (u = 0; u < nu; u++, rq += tile) {
                *rq = dot5(t16 + 10 * used[u], cw);
            }
        }
#endif
    }
}

#if LR_REUSE_COLS
/* The column words (col9_in) of n pixels of one output row of the padded plane, the first one's rows at x0, x0 + dhw,
 * x0 + 2 dhw, stride sw, into cw[5 q .. 5 q + 4]. With the DSP extension (optimised) fifteen instructions a pixel:
 * three word loads, six SXTAB16, a PKHBT and an STM; the fifth word's upper half is then byte 3 of the third row
 * plus in_offset instead of 0, which every template's (and the ones template's) zero tenth value ignores. */
static LR_NOINLINE void cols9(const int8_t *x0, int32_t dhw, int32_t sw, int32_t n, int32_t in_offset, uint32_t *cw)
{
#if LR_REUSE_ASM
    const uint32_t off = ((uint32_t)in_offset & 0xffffu) | ((uint32_t)in_offset << 16);
    uint32_t *const end = cw + 5 * n;
    register uint32_t c0 __asm__("r8"), c1 __asm__("r9"), c2 __asm__("r10"), c3 __asm__("r11");
    register uint32_t c4 __asm__("r12");
    uint32_t t;
    if (n < 1) {
        return;
    }
    __asm__ volatile("1:\n\t"
                     "ldr %[c3], [%[x]]\n\t"
                     "add %[c4], %[x], %[dhw]\n\t"
                     "ldr %[t], [%[c4]]\n\t"
                     "ldr %[c4], [%[c4], %[dhw]]\n\t"
                     "sxtab16 %[c0], %[off], %[c3]\n\t"
                     "sxtab16 %[c3], %[off], %[c3], ror #8\n\t"
                     "sxtab16 %[c1], %[off], %[t]\n\t"
                     "sxtab16 %[t], %[off], %[t], ror #8\n\t"
                     "sxtab16 %[c2], %[off], %[c4]\n\t"
                     "sxtab16 %[c4], %[off], %[c4], ror #8\n\t"
                     "pkhbt %[c3], %[c3], %[t], lsl #16\n\t"
                     "stm %[cw]!, {%[c0], %[c1], %[c2], %[c3], %[c4]}\n\t"
                     "add %[x], %[x], %[sw]\n\t"
                     "cmp %[cw], %[end]\n\t"
                     "bne 1b"
                     : [x] "+r"(x0), [cw] "+r"(cw), [c0] "=&r"(c0), [c1] "=&r"(c1), [c2] "=&r"(c2), [c3] "=&r"(c3),
                       [c4] "=&r"(c4), [t] "=&r"(t)
                     : [dhw] "r"(dhw), [sw] "r"(sw), [off] "r"(off), [end] "r"(end)
                     : "cc", "memory");
#else
    int32_t q;
    for (q = 0; q < n; q++, x0 += sw, cw += 5) {
        col9_in(x0, x0 + dhw, x0 + 2 * dhw, in_offset, cw);
    }
#endif
}

/* Template-stationary responses: out[q] = the dot product of the template's five words t with pixel q's column
 * words cols[5 q .. 5 q + 4], q < n. With the DSP extension (and optimisation: thirteen registers) four pixels a
 * step in thirty instructions (an LDM of a column into r8..r12, five SMLADs, a store, per pixel): 7.5 per template
 * and pixel. */
static LR_NOINLINE void tmpl_cols(const uint32_t *cols, int32_t n, const int16_t *t, int32_t *out)
{
    int32_t q = 0;
#if LR_REUSE_ASM
    if (n >= 2) {
        const uint32_t t0 = lr_ld32(t), t1 = lr_ld32(t + 2), t2 = lr_ld32(t + 4), t3 = lr_ld32(t + 6);
        const uint32_t t4 = lr_ld32(t + 8);
        const uint32_t *c = cols, *const end = cols + 5 * (n & ~1);
        int32_t *o = out;
        register uint32_t x0 __asm__("r8"), x1 __asm__("r9"), x2 __asm__("r10"), x3 __asm__("r11");
        register uint32_t x4 __asm__("r12");
/* one pixel: its column words into r8..r12, five SMLADs (the sum in r8), the response stored */
#define LR_TC_PX                                                                                                     \
    "ldm %[c]!, {%[x0], %[x1], %[x2], %[x3], %[x4]}\n\t"                                                             \
    "smuad %[x0], %[x0], %[t0]\n\t"                                                                                  \
    "smlad %[x0], %[x1], %[t1], %[x0]\n\t"                                                                           \
    "smlad %[x0], %[x2], %[t2], %[x0]\n\t"                                                                           \
    "smlad %[x0], %[x3], %[t3], %[x0]\n\t"                                                                           \
    "smlad %[x0], %[x4], %[t4], %[x0]\n\t"                                                                           \
    "str %[x0], [%[o]], #4\n\t"
        if (n & 2) { /* an odd number of pairs: one pair first, then four pixels a step */
            __asm__ volatile(LR_TC_PX LR_TC_PX
                             : [c] "+r"(c), [o] "+r"(o), [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2),
                               [x3] "=&r"(x3), [x4] "=&r"(x4)
                             : [t0] "r"(t0), [t1] "r"(t1), [t2] "r"(t2), [t3] "r"(t3), [t4] "r"(t4)
                             : "memory");
        }
        if (c != end) {
            __asm__ volatile("1:\n\t" LR_TC_PX LR_TC_PX LR_TC_PX LR_TC_PX "cmp %[c], %[end]\n\t"
                             "bne 1b"
                             : [c] "+r"(c), [o] "+r"(o), [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2),
                               [x3] "=&r"(x3), [x4] "=&r"(x4)
                             : [end] "r"(end), [t0] "r"(t0), [t1] "r"(t1), [t2] "r"(t2), [t3] "r"(t3),
                               [t4] "r"(t4)
                             : "cc", "memory");
        }
#undef LR_TC_PX
        q = n & ~1;
    }
    for (; q < n; q++) {
        const uint32_t *c = cols + 5 * q;
        int32_t acc = __smuad((int16x2_t)lr_ld32(t), (int16x2_t)c[0]);
        acc = __smlad((int16x2_t)lr_ld32(t + 2), (int16x2_t)c[1], acc);
        acc = __smlad((int16x2_t)lr_ld32(t + 4), (int16x2_t)c[2], acc);
        acc = __smlad((int16x2_t)lr_ld32(t + 6), (int16x2_t)c[3], acc);
        out[q] = __smlad((int16x2_t)lr_ld32(t + 8), (int16x2_t)c[4], acc);
    }
#else
    for (; q < n; q++) {
        out[q] = dot5(t, cols + 5 * q);
    }
#endif
}

#endif

/* 3 x 3 kernels: S and the responses of the used templates for the rows oy0 .. oy0 + nr - 1 of one input plane xc
 * (s [nr * ow], r = s + tile: [u * tile + pixel]), through the padded plane pp (pad_words of nr rows). With cols
 * (5 nr ow words) every pixel's column words are written there first and each template then runs over all of them
 * (tmpl_cols); without, row9_in (the columns in registers, the templates' loop inside). */
static LR_NOINLINE void tile9_pad(const lr_geom *g, const int8_t *xc, int32_t oy0, int32_t nr, int32_t in_offset,
                                  const int16_t *t16, const int16_t *ones, const int32_t *used, uint32_t *tptr,
                                  int32_t nu, int32_t *s, int32_t tile, int8_t *pp, uint32_t *cols)
{
    const int32_t ow = g->ow, pw = (ow - 1) * g->sw + 4, ph = (nr - 1) * g->sh + 2 * g->dh + 1;
    int32_t row;
    lr_opt_pad_plane(g, xc, oy0 * g->sh - g->pt, ph, pw, (int8_t)-in_offset, pp, 1);
#if LR_REUSE_COLS
    if (cols != NULL) {
        int32_t u;
        for (row = 0; row < nr; row++) {
            cols9(pp + row * g->sh * pw, g->dh * pw, g->sw, ow, in_offset, cols + 5 * row * ow);
        }
        tmpl_cols(cols, nr * ow, ones, s);
        for (u = 0; u < nu; u++) {
            tmpl_cols(cols, nr * ow, t16 + 10 * used[u], s + (u + 1) * tile);
        }
        return;
    }
#else
    (void)cols;
#endif
#if LR_REUSE_ASM
    tptr[0] = (uint32_t)(uintptr_t)ones; /* 32-bit addresses (Cortex-M): the ones template, the used ones, a 0 */
    for (row = 0; row < nu; row++) {
        tptr[row + 1] = (uint32_t)(uintptr_t)(t16 + 10 * used[row]);
    }
    tptr[nu + 1] = 0u;
#endif
    for (row = 0; row < nr; row++) {
        row9_in(pp + row * g->sh * pw, g->dh * pw, g->sw, ow, in_offset, t16, ones, used, tptr, nu, s + row * ow, tile);
    }
}

/* Step 3 for one input channel: each job (decode) adds a' R[slot] + b' S to its output channel's n accumulators,
 * ac[k] += a' r[k] + b' s[k], k < n, with r and ac at the job's byte offsets from base (wrapping products and sums:
 * the exact sum modulo 2^32, see decode). With the DSP extension (GCC, optimised: thirteen registers) the whole loop
 * over jobs is in assembly: three values a step in twelve instructions (LDM / STM of word-aligned int32 arrays, two
 * MLAs each), the last n mod 3 one at a time, fourteen instructions a job around them. */
static LR_NOINLINE void combine(int32_t *base, const uint32_t *job, const int32_t *s, int32_t n)
{
#if LR_REUSE_ASM
    const int32_t *sm = s;
    int32_t trips = n / 3, rem = n - 3 * (n / 3);
    const uint32_t *q = job;
    register uint32_t rp __asm__("r0"), a __asm__("r1"), b __asm__("r2"), ap __asm__("r3");
    register int32_t t0 __asm__("r4"), t1 __asm__("r5"), t2 __asm__("r6");
    register int32_t v0 __asm__("r8"), v1 __asm__("r9"), v2 __asm__("r10");
    uint32_t sp, cnt;
    __asm__ volatile("ldr %[t0], [%[q]]\n\t"
                     "cmp %[t0], #0\n\t"
                     "beq 9f\n\t"
                     "2:\n\t"
                     "ldm %[q]!, {%[rp], %[a], %[b], %[ap]}\n\t"
                     "ldr %[t0], %[basem]\n\t"
                     "add %[rp], %[rp], %[t0]\n\t"
                     "add %[ap], %[ap], %[t0]\n\t"
                     "ldr %[sp], %[sm]\n\t"
                     "ldr %[cnt], %[tripsm]\n\t"
                     "cmp %[cnt], #0\n\t"
                     "beq 4f\n\t"
                     "1:\n\t"
                     "ldm %[rp]!, {%[t0], %[t1], %[t2]}\n\t"
                     "ldm %[ap], {%[v0], %[v1], %[v2]}\n\t"
                     "mla %[v0], %[t0], %[a], %[v0]\n\t"
                     "mla %[v1], %[t1], %[a], %[v1]\n\t"
                     "mla %[v2], %[t2], %[a], %[v2]\n\t"
                     "ldm %[sp]!, {%[t0], %[t1], %[t2]}\n\t"
                     "mla %[v0], %[t0], %[b], %[v0]\n\t"
                     "mla %[v1], %[t1], %[b], %[v1]\n\t"
                     "mla %[v2], %[t2], %[b], %[v2]\n\t"
                     "stm %[ap]!, {%[v0], %[v1], %[v2]}\n\t"
                     "subs %[cnt], %[cnt], #1\n\t"
                     "bne 1b\n\t"
                     "4:\n\t"
                     "ldr %[cnt], %[remm]\n\t"
                     "cmp %[cnt], #0\n\t"
                     "beq 6f\n\t"
                     "5:\n\t"
                     "ldr %[t0], [%[rp]], #4\n\t"
                     "ldr %[v0], [%[ap]]\n\t"
                     "mla %[v0], %[t0], %[a], %[v0]\n\t"
                     "ldr %[t0], [%[sp]], #4\n\t"
                     "mla %[v0], %[t0], %[b], %[v0]\n\t"
                     "str %[v0], [%[ap]], #4\n\t"
                     "subs %[cnt], %[cnt], #1\n\t"
                     "bne 5b\n\t"
                     "6:\n\t"
                     "ldr %[t0], [%[q]]\n\t"
                     "cmp %[t0], #0\n\t"
                     "bne 2b\n\t"
                     "9:"
                     : [q] "+r"(q), [rp] "=&r"(rp), [a] "=&r"(a), [b] "=&r"(b), [ap] "=&r"(ap), [t0] "=&r"(t0),
                       [t1] "=&r"(t1), [t2] "=&r"(t2), [v0] "=&r"(v0), [v1] "=&r"(v1), [v2] "=&r"(v2), [sp] "=&r"(sp),
                       [cnt] "=&r"(cnt)
                     : [basem] "m"(base), [sm] "m"(sm), [tripsm] "m"(trips), [remm] "m"(rem)
                     : "cc", "memory");
#else
    const uint32_t *jb;
    for (jb = job; jb[0] != 0u; jb += 4) {
        const int32_t *rr = (const int32_t *)(const void *)((const char *)base + jb[0]);
        int32_t *ac = (int32_t *)(void *)((char *)base + jb[3]), k;
        const uint32_t a = jb[1], b = jb[2];
        for (k = 0; k < n; k++) {
            ac[k] = lr_as_i32((uint32_t)ac[k] + a * (uint32_t)rr[k] + b * (uint32_t)s[k]);
        }
    }
#endif
}

#if LR_REUSE_COLS
/* The paired jobs of input channels i and i + 1 from their job lists j1 and j2 (decode; a layer without a kernel mask:
 * cg jobs each, output channel o at job o): six words per output channel, the two response rows' offsets and a'
 * values, the b' pair as int16 halves (b'(o, i) low) and the accumulators' offset; a 0 after the last. Returns 0
 * (pj then unused) unless every b' fits int16 (the S pairs' SMLAD; b' = b_q 2^max(0, e) does for the usual
 * 4..8-bit b_q): b + 2^15 < 2^16 modulo 2^32 for all of them. */
static LR_NOINLINE int pair_jobs(const uint32_t *j1, const uint32_t *j2, int32_t cg, uint32_t *pj)
{
    const uint32_t *const end = j1 + 4 * cg;
    uint32_t out = 0u;
    for (; j1 < end; j1 += 4, j2 += 4, pj += 6) {
        const uint32_t b1 = j1[2], b2 = j2[2];
        out |= (b1 + 0x8000u) | (b2 + 0x8000u);
        pj[0] = j1[0];
        pj[1] = j1[1];
        pj[2] = j2[0];
        pj[3] = j2[1];
        pj[4] = (b1 & 0xffffu) | (b2 << 16);
        pj[5] = j1[3];
    }
    *pj = 0u;
    return (out >> 16) == 0u;
}

/* S pairs: w[k] = S1[k] (low half) and S2[k] (high half) as int16 (|S| <= kh kw 255 < 2^15), k < n. */
static void pack_s(const int32_t *s1, const int32_t *s2, int32_t n, uint32_t *w)
{
    int32_t k;
    for (k = 0; k < n; k++) {
        w[k] = ((uint32_t)s1[k] & 0xffffu) | ((uint32_t)s2[k] << 16);
    }
}

#if LR_REUSE_ASM
/* combine2's three pixels: accumulators, the two response rows' values times a', the S pairs times the b' pair (lr) */
#define LR_C2_3PX                                                                                                    \
    "ldm %[ap], {%[v0], %[v1], %[v2]}\n\t"                                                                           \
    "ldm %[rp1]!, {%[t0], %[t1], %[t2]}\n\t"                                                                         \
    "mla %[v0], %[t0], %[a1], %[v0]\n\t"                                                                             \
    "mla %[v1], %[t1], %[a1], %[v1]\n\t"                                                                             \
    "mla %[v2], %[t2], %[a1], %[v2]\n\t"                                                                             \
    "ldm %[rp2]!, {%[t0], %[t1], %[t2]}\n\t"                                                                         \
    "mla %[v0], %[t0], %[a2], %[v0]\n\t"                                                                             \
    "mla %[v1], %[t1], %[a2], %[v1]\n\t"                                                                             \
    "mla %[v2], %[t2], %[a2], %[v2]\n\t"                                                                             \
    "ldm %[spp]!, {%[t0], %[t1], %[t2]}\n\t"                                                                         \
    "smlad %[v0], %[t0], lr, %[v0]\n\t"                                                                              \
    "smlad %[v1], %[t1], lr, %[v1]\n\t"                                                                              \
    "smlad %[v2], %[t2], lr, %[v2]\n\t"                                                                              \
    "stm %[ap]!, {%[v0], %[v1], %[v2]}\n\t"
#endif

/* Step 3 for input channels i and i + 1 at once (paired jobs): ac[k] += a1 r1[k] + a2 r2[k] + b1 S1[k] + b2 S2[k]
 * (wrapping: the exact sum modulo 2^32), the b terms as one SMLAD of the b' pair with the S pair sp[k]. With the DSP
 * extension (optimised) in assembly: six values a step in thirty instructions (per three: four LDMs, six MLAs, three
 * SMLADs, an STM), 2.5 per kernel and pixel against combine's 4. Fourteen registers: lr holds the b' pair. */
static LR_NOINLINE void combine2(int32_t *base, const uint32_t *pjob, const uint32_t *sp, int32_t n)
{
#if LR_REUSE_ASM
    const uint32_t *sm = sp;
    int32_t trips = n / 6, has3 = n % 6 >= 3, rem = n % 3;
    const uint32_t *q = pjob, *qm = pjob;
    register int32_t t0 __asm__("r4"), t1 __asm__("r5"), t2 __asm__("r6");
    register int32_t v0 __asm__("r8"), v1 __asm__("r9"), v2 __asm__("r10");
    uint32_t rp1, a1, rp2, a2, ap, spp;
    __asm__ volatile("ldr %[t0], [%[q]]\n\t"
                     "cmp %[t0], #0\n\t"
                     "beq 9f\n\t"
                     "2:\n\t"
                     "ldrd %[rp1], %[a1], [%[q]], #8\n\t"
                     "ldrd %[rp2], %[a2], [%[q]], #8\n\t"
                     "ldrd lr, %[ap], [%[q]], #8\n\t"
                     "ldr %[t0], %[basem]\n\t"
                     "add %[rp1], %[rp1], %[t0]\n\t"
                     "add %[rp2], %[rp2], %[t0]\n\t"
                     "add %[ap], %[ap], %[t0]\n\t"
                     "ldr %[spp], %[smm]\n\t"
                     "str %[q], %[qmm]\n\t"
                     "ldr %[q], %[tripsm]\n\t"
                     "cmp %[q], #0\n\t"
                     "beq 3f\n\t"
                     "1:\n\t" LR_C2_3PX LR_C2_3PX
                     "subs %[q], %[q], #1\n\t"
                     "bne 1b\n\t"
                     "3:\n\t"
                     "ldr %[q], %[has3m]\n\t"
                     "cmp %[q], #0\n\t"
                     "beq 4f\n\t" LR_C2_3PX
                     "4:\n\t"
                     "ldr %[q], %[remm]\n\t"
                     "cmp %[q], #0\n\t"
                     "beq 6f\n\t"
                     "5:\n\t"
                     "ldr %[v0], [%[ap]]\n\t"
                     "ldr %[t0], [%[rp1]], #4\n\t"
                     "mla %[v0], %[t0], %[a1], %[v0]\n\t"
                     "ldr %[t0], [%[rp2]], #4\n\t"
                     "mla %[v0], %[t0], %[a2], %[v0]\n\t"
                     "ldr %[t0], [%[spp]], #4\n\t"
                     "smlad %[v0], %[t0], lr, %[v0]\n\t"
                     "str %[v0], [%[ap]], #4\n\t"
                     "subs %[q], %[q], #1\n\t"
                     "bne 5b\n\t"
                     "6:\n\t"
                     "ldr %[q], %[qmm]\n\t"
                     "ldr %[t0], [%[q]]\n\t"
                     "cmp %[t0], #0\n\t"
                     "bne 2b\n\t"
                     "9:"
                     : [q] "+r"(q), [rp1] "=&r"(rp1), [a1] "=&r"(a1), [rp2] "=&r"(rp2), [a2] "=&r"(a2), [ap] "=&r"(ap),
                       [spp] "=&r"(spp), [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), [v0] "=&r"(v0),
                       [v1] "=&r"(v1), [v2] "=&r"(v2), [qmm] "+m"(qm)
                     : [basem] "m"(base), [smm] "m"(sm), [tripsm] "m"(trips), [has3m] "m"(has3), [remm] "m"(rem)
                     : "cc", "memory", "lr");
#else
    const uint32_t *jb;
    for (jb = pjob; jb[0] != 0u; jb += 6) {
        const int32_t *r1 = (const int32_t *)(const void *)((const char *)base + jb[0]);
        const int32_t *r2 = (const int32_t *)(const void *)((const char *)base + jb[2]);
        int32_t *ac = (int32_t *)(void *)((char *)base + jb[5]), k;
        const uint32_t a1 = jb[1], a2 = jb[3];
        /* int16 halves sign-extended modulo 2^32 */
        const uint32_t b1 = ((jb[4] & 0xffffu) ^ 0x8000u) - 0x8000u, b2 = ((jb[4] >> 16) ^ 0x8000u) - 0x8000u;
        for (k = 0; k < n; k++) {
            const uint32_t w = sp[k], s1 = ((w & 0xffffu) ^ 0x8000u) - 0x8000u, s2 = ((w >> 16) ^ 0x8000u) - 0x8000u;
            ac[k] = lr_as_i32((uint32_t)ac[k] + a1 * (uint32_t)r1[k] + a2 * (uint32_t)r2[k] + b1 * s1 + b2 * s2);
        }
    }
#endif
}
#endif

/* Steps 1 and 2 for input channel i of group grp: decode its kernels into job (responses at r, S at s = r - tile),
 * then S and the responses of the tile's rows oy0 .. oy0 + nr - 1. */
#if defined(__GNUC__)
#define LR_INLINE_ALWAYS inline __attribute__((always_inline)) /* no call with twenty arguments on the stack */
#else
#define LR_INLINE_ALWAYS inline
#endif
static LR_INLINE_ALWAYS void channel(const lr_geom *g, const int8_t *x, const lr_linrep_s8_params *p, const unsigned char *mask,
                    int32_t grp, int32_t i, int32_t oy0, int32_t nr, int32_t tile, int32_t *scratch, int32_t *pos,
                    int32_t *slot, int32_t *used, uint32_t *job, const int32_t *acc, int32_t *s, const int16_t *t16,
                    const int16_t *ones, uint32_t *tptr, int16_t *col, int8_t *pp, uint32_t *cols)
{
    const int32_t cg = g->cout_g, ow = g->ow, np = nr * ow, per = (g->kh * g->kw + 1) & ~1;
    const int8_t *xc = x + (size_t)(grp * g->cin_g + i) * (size_t)(g->h * g->w);
    int32_t *r = s + tile, q, u;
    const int32_t nu = decode(p, mask, grp * cg, cg, g->cin_g, i, pos, slot, used, job,
                              (uint32_t)((size_t)(r - scratch) * 4u), (uint32_t)((size_t)(acc - scratch) * 4u),
                              4u * (uint32_t)tile);
    if (pp != NULL) { /* S and the responses through the padded plane */
        tile9_pad(g, xc, oy0, nr, p->in_offset, t16, ones, used, tptr, nu, s, tile, pp, cols);
        return;
    }
    for (q = 0; q < np; q++) { /* one pixel's column at a time */
        im2col1(g, xc, oy0 + q / ow, q % ow, p->in_offset, per, col);
        s[q] = dot16(ones, col, per / 2);
        for (u = 0; u < nu; u++) {
            r[u * tile + q] = dot16(t16 + (uint32_t)used[u] * (uint32_t)per, col, per / 2);
        }
    }
}

void lr_linrep_conv2d_reuse_s8_opt_n(const lr_geom *g, const int8_t *x, const lr_linrep_s8_params *p,
                                     int32_t *scratch, uint32_t words, int8_t *y)
{
    const int32_t kk = g->kh * g->kw, per = (kk + 1) & ~1, ow = g->ow, cg = g->cout_g;
    const int32_t ns = p->k < (uint32_t)cg ? (int32_t)p->k : cg;
    const unsigned char *mask = p->lr.mask ? p->blob + p->lr.mask : NULL;
    uint64_t pxw;
    const uint64_t fixed = fixed_words(g, p->k, &pxw);
    const uint64_t fit = (uint64_t)words > fixed ? div_u64((uint64_t)words - fixed, pxw * (uint64_t)ow) : 0u;
    int32_t rows = fit > (uint64_t)g->oh ? g->oh : (int32_t)fit, tile;
    int mode = 0;
    int16_t *t16 = (int16_t *)(void *)scratch, *ones;
    int32_t *slot = scratch + (int32_t)((p->k + 1u) * (uint32_t)per / 2u), *used = slot + p->k;
    uint32_t *job = (uint32_t *)(void *)(used + ns);
    int32_t *pos = (int32_t *)(void *)(job + 4 * cg + 1), *base = pos + cg;
    uint32_t *tptr = (uint32_t *)(void *)(base + cg);
    int16_t *col = (int16_t *)(void *)(tptr + ns + 2);
    int32_t *acc, *s, *s2 = NULL;
    uint32_t *cols = NULL, *spair = NULL, *job2 = NULL, *pjob = NULL;
    int32_t grp, oy0, i, o, k;
    uint32_t j, rank = 0u;
    int8_t *pp = NULL;
    const int nine = pad_words(g, 1u) > 0u; /* 3 x 3, dilation 1 in x: the padded plane */
    if (nine) {
        rows = tile_rows(g, p->k, fixed, pxw, words, &mode);
    }
    if (rows < 1) {
        return; /* fewer words than lr_linrep_conv2d_reuse_s8_opt_scratch_min (a caller's error): y left as is */
    }
    tile = rows * ow;
    acc = (int32_t *)(void *)(col + per);
    s = acc + cg * tile;
    if (nine) { /* after acc, S and R: the plane, then the column words (mode >= 1), then the paired step's (mode 2) */
        int32_t *e = scratch + (size_t)(fixed + pxw * (uint64_t)ow * (uint64_t)rows);
        pp = (int8_t *)(void *)e;
        e += pad_words(g, (uint64_t)rows);
        if (mode >= 1) {
            cols = (uint32_t *)(void *)e;
            e += cols_words(g, (uint64_t)rows);
        }
        if (mode == 2) {
            s2 = e;
            spair = (uint32_t *)(void *)(s2 + (ns + 1) * tile);
            job2 = spair + tile;
            pjob = job2 + 4 * cg + 1;
        }
    }
#if !LR_REUSE_COLS
    (void)s2;
    (void)spair;
    (void)job2;
    (void)pjob;
#endif
    for (j = 0u; j < p->k; j++) { /* int16 templates, zero padded to per; then the ones template */
        for (k = 0; k < per; k++) {
            const int32_t tap = nine ? P9[k] : k;
            t16[j * (uint32_t)per + (uint32_t)k] = (int16_t)(tap < kk ? lr_s8(p->tmpl[j * (uint32_t)kk + (uint32_t)tap]) : 0);
        }
        slot[j] = -1;
    }
    ones = t16 + p->k * (uint32_t)per;
    for (k = 0; k < per; k++) {
        ones[k] = (int16_t)(k < kk);
    }
    for (grp = 0; grp < g->groups; grp++) {
        for (o = 0; o < cg; o++) {
#if LR_OPT_FAST
            if (mask == NULL) { /* pos and base: a' = a_q 2^max(0, -e), b' = b_q 2^max(0, e) as multipliers (decode) */
                const int32_t e = lr_s8(p->bexp[grp * cg + o]);
                const uint32_t ea = e < 0 ? (uint32_t)-e : 0u, eb = e > 0 ? (uint32_t)e : 0u;
                ((uint32_t *)(void *)pos)[2 * o] = ea < 32u ? 1u << ea : 0u;
                ((uint32_t *)(void *)pos)[2 * o + 1] = eb < 32u ? 1u << eb : 0u;
                continue;
            }
#endif
            base[o] = (int32_t)rank; /* rank of kernel (o, 0) among the kept ones */
            for (i = 0; i < g->cin_g; i++) {
                rank += mask == NULL ? 1u : (uint32_t)lr_kept(mask, (uint32_t)((grp * cg + o) * g->cin_g + i));
            }
        }
        for (oy0 = 0; oy0 < g->oh; oy0 += rows) {
            const int32_t nr = g->oh - oy0 < rows ? g->oh - oy0 : rows, np = nr * ow;
            for (o = 0; o < cg; o++) {
                const int32_t bias = p->bias ? lr_opt_lei32(p->bias + 4u * (uint32_t)(grp * cg + o)) : 0;
                int32_t *ao = acc + o * tile;
                k = 0;
#if LR_OPT_FAST
                for (; k + 4 <= np; k += 4) { /* four stores a step */
                    ao[k] = bias;
                    ao[k + 1] = bias;
                    ao[k + 2] = bias;
                    ao[k + 3] = bias;
                }
#endif
                for (; k < np; k++) {
                    ao[k] = bias;
                }
                if (mask != NULL || !LR_OPT_FAST) {
                    pos[o] = base[o];
                }
            }
            for (i = 0; i < g->cin_g; i++) {
                channel(g, x, p, mask, grp, i, oy0, nr, tile, scratch, pos, slot, used, job, acc, s, t16, ones, tptr,
                        col, pp, cols); /* 1. and 2. */
#if LR_REUSE_COLS
                if (s2 != NULL && mask == NULL && i + 1 < g->cin_g) { /* channel i + 1 too, then both at once */
                    channel(g, x, p, mask, grp, i + 1, oy0, nr, tile, scratch, pos, slot, used, job2, acc, s2, t16,
                            ones, tptr, col, pp, cols);
                    if (pair_jobs(job, job2, cg, pjob)) {
                        pack_s(s, s2, np, spair);
                        combine2(scratch, pjob, spair, np);
                    } else {
                        combine(scratch, job, s, np);
                        combine(scratch, job2, s2, np);
                    }
                    i++;
                    continue;
                }
#endif
                combine(scratch, job, s, np); /* 3. the kept kernels' a' R + b' S */
            }
            for (o = 0; o < cg; o++) {
                const int32_t oc = grp * cg + o;
                int8_t *yo = y + ((size_t)oc * (size_t)g->oh + (size_t)oy0) * (size_t)ow;
                lr_opt_rq rq;
                lr_opt_rq_init(&rq, &p->rq, (uint32_t)oc);
                lr_opt_requant_n(acc + o * tile, np, &rq, yo);
            }
        }
    }
}

void lr_linrep_conv2d_reuse_s8_opt(const lr_geom *g, const int8_t *x, const lr_linrep_s8_params *p,
                                   int32_t *scratch, int8_t *y)
{
    lr_linrep_conv2d_reuse_s8_opt_n(g, x, p, scratch, (uint32_t)lr_linrep_conv2d_reuse_s8_opt_scratch(g, p->k), y);
}
