/*
 * lr_conv2d_s8_opt.c -- CONV2D of an int8 model, optimised (equal to lr_conv2d_s8_ref bit for bit).
 *
 * Dense and grouped convs (CMSIS-NN's scheme, in our [C, H, W] layout): two output pixels at a time are
 * gathered (im2col) into one buffer of interleaved int16 columns of cin_g * kh * kw values x + in_offset (0 for
 * padding taps; lr_opt_col_pos gives the layout), then each pair of output channels of the group takes its
 * dot products with both: 2 x 2 accumulators, so every weight and every column value loaded serves two
 * multiply-adds. With the DSP extension the dot products run four taps per step: the weights' bytes (0, 2)
 * and (1, 3) sign-extended by SXTB16 into int16 pairs, the columns stored in that order, so that one weight
 * word and four column words (one pointer, constant offsets) feed eight SMLADs; in inline assembly, eight taps
 * per step (34 instructions per 32 multiply-adds with the loop: LR_DOT_ASM, with the fast paths). Elsewhere the
 * same blocking in plain C. One call (pairs) takes every channel pair of a pixel pair, each channel's two outputs
 * requantised by lr_opt_out2; with LR_DOT_ASM, the common case (per-channel requantisation of right shifts, a bias)
 * in assembly from the bias to the output bytes (pairs_sat / pairs_clamp: about 90 instructions per channel pair
 * besides the dot products, pairs' C about 200; keyword spotting's 64 -> 64 pointwise convs 1,008,668 -> 760,161
 * instructions with col_pw2 below). The gather has fast paths for interior pixels of 3 x 3 (dilation 1) and 1 x 1
 * kernels, four input channels (36 or 4 taps: whole groups of four) at a time with constant positions, and the
 * last 1 - 3 input channels of a 3 x 3 one (rem3); with LR_DOT_ASM, 1 x 1 stride-1 ones by halfwords (col_pw2: the
 * two pixels adjacent in every channel). In every build a pixel pair inside the input on one row takes both
 * columns in one pass over the taps (gather_inside2: 3 x 3 kernels there in the smallest builds, any other
 * kernel size in all), other pixels one tap at a time with bounds (gather_taps); both step the column position
 * (col_step) instead of computing it per tap (the smallest -Os build's gather took about 44 instructions per tap:
 * MLPerf Tiny's image-classification ResNet at -Os 42.7 -> 28.1 M instructions). The columns take the reference's
 * scratch (cin_g * kh * kw int32 words = two columns of int16).
 *
 * 1 x 1 convs with groups 1 and no padding (any stride: the ResNet shortcuts) take a fast path without columns
 * (pointwise below) -- in builds with LR_DOT_ASM only below 32 input channels (below 8 where pairs_sat /
 * pairs_clamp take the op), where the columns' gather and per-pair work are not yet paid back:
 * per pair of output channels, their weights widened once into the scratch as int16 pairs, then two output pixels
 * at a time read in place at their strided positions, the input offset folded into each channel's start as
 * in_offset * sum(w).
 *
 * Depthwise convs (one input and one output channel per group) with 3-wide kernels take lr_opt_chan3 per channel
 * (the LinRep direct path's kernel, lr_chan3_s8_opt.c: two pixels per step at strides 1 and 2 on DSP cores), others
 * lr_conv2d_channel_s8_opt (interior pixels without bounds tests, the weights widened to int32); 3 x 3 ones at
 * stride 1 (and the one-channel stem) or 2 take lr_opt_plane3x3 on a padded copy of each input channel when
 * lr_conv2d_s8_opt_n is given lr_conv2d_s8_opt_plane_words words (whole output rows per call; the pixel pairs of
 * stride 1 in 26 instructions, of stride 2 in 33, in assembly), else stride 1 lr_opt_chan3x3 on the input; so do
 * kh x 5 and kh x 7 ones (the 5 x 5 and 7 x 7 depthwise convs) with lr_opt_plane_wide (lr_plane_wide_s8_opt.c,
 * lr_conv2d_s8_opt_n's dispatch below), else lr_conv2d_channel_s8_opt.
 */
#include "kernels/lr_opt_s8.h"

#include <stddef.h>

/* dot's loop alone in assembly in every optimised DSP build, -Os too: smaller than the C loop, which GCC's -Os
 * allocation spills (its counter and weight pointers reloaded every four taps: about 32 instructions per 16
 * multiply-adds against 17) */
#if LR_DSP && defined(__GNUC__) && defined(__OPTIMIZE__)
#define LR_DOT_LOOP_ASM 1
#else
#define LR_DOT_LOOP_ASM 0
#endif
/* and with the fast paths (-O2, or -Os with LR_OPT_FAST), not in the smallest -Os builds: eight taps per step, the
 * channel pairs from the bias to the output bytes (pairs_sat / pairs_clamp), col_pw2, the RGB loop */
#if LR_DOT_LOOP_ASM && LR_OPT_FAST
#define LR_DOT_ASM 1
#else
#define LR_DOT_ASM 0
#endif
#if LR_DOT_LOOP_ASM
/* Four taps of two channels' dot products with two columns (dot, pairs_sat / pairs_clamp): the weight words of
 * channel 0 (post-incremented) and 1 (d bytes on), the columns' four words (taps (0, 2) of pixels 0 and 1, then
 * taps (1, 3)), 8 SMLADs into a00 (channel 0, pixel 0), a01, a10, a11; 16 instructions. */
#define LR_DOT4_TEXT(TA, TB, C0, C1, T, WP, COL, D, A00, A01, A10, A11) \
    "ldr " TA ", [" WP "], #4\n\t" \
    "ldr " TB ", [" WP ", " D "]\n\t" \
    "ldrd " C0 ", " C1 ", [" COL "], #16\n\t" \
    "sxtb16 " T ", " TA "\n\t" \
    "smlad " A00 ", " T ", " C0 ", " A00 "\n\t" \
    "smlad " A01 ", " T ", " C1 ", " A01 "\n\t" \
    "sxtb16 " T ", " TB "\n\t" \
    "smlad " A10 ", " T ", " C0 ", " A10 "\n\t" \
    "smlad " A11 ", " T ", " C1 ", " A11 "\n\t" \
    "ldrd " C0 ", " C1 ", [" COL ", #-8]\n\t" \
    "sxtb16 " TA ", " TA ", ror #8\n\t" \
    "smlad " A00 ", " TA ", " C0 ", " A00 "\n\t" \
    "smlad " A01 ", " TA ", " C1 ", " A01 "\n\t" \
    "sxtb16 " TB ", " TB ", ror #8\n\t" \
    "smlad " A10 ", " TB ", " C0 ", " A10 "\n\t" \
    "smlad " A11 ", " TB ", " C1 ", " A11 "\n\t"
#endif

#if LR_OPT_FAST
/* Position of tap k (a constant) of pixel 0 within whole groups of four. */
#define LR_P(k) ((((k) >> 2) << 3) + (((k) & 1) << 2) + (((k) >> 1) & 1))
/* Taps k .. k + 2 of one kernel row at r (dilation 1). */
#define LR_ROW3(k, r) \
    col[LR_P(k)] = (int16_t)((r)[0] + off); \
    col[LR_P((k) + 1)] = (int16_t)((r)[1] + off); \
    col[LR_P((k) + 2)] = (int16_t)((r)[2] + off)
/* Input channel c (0 .. 3) of a group of four, 3 x 3: taps 9c .. 9c + 8. */
#define LR_CH3(c) \
    do { \
        const int8_t *r = xp + (c) * hw; \
        LR_ROW3(9 * (c), r); \
        LR_ROW3(9 * (c) + 3, r + w); \
        LR_ROW3(9 * (c) + 6, r + 2 * w); \
    } while (0)
/* The same at a border: row r NULL outside the input, column kx inside iff v<kx>. */
#define LR_ROW3B(k, r) \
    col[LR_P(k)] = (int16_t)((r) != NULL && v0 ? (r)[0] + off : 0); \
    col[LR_P((k) + 1)] = (int16_t)((r) != NULL && v1 ? (r)[1] + off : 0); \
    col[LR_P((k) + 2)] = (int16_t)((r) != NULL && v2 ? (r)[2] + off : 0)
#define LR_CH3B(c) \
    do { \
        LR_ROW3B(9 * (c), r0); \
        LR_ROW3B(9 * (c) + 3, r1); \
        LR_ROW3B(9 * (c) + 6, r2); \
        r0 = r0 != NULL ? r0 + hw : NULL; \
        r1 = r1 != NULL ? r1 + hw : NULL; \
        r2 = r2 != NULL ? r2 + hw : NULL; \
    } while (0)

/* The last rem (1 .. 3) input channels of an interior pixel of a 3 x 3, dilation 1 kernel (an RGB stem's three):
 * their 9 rem taps k (0 ..) start a group of four (9 times the channels before them, a multiple of four, is), the
 * first nf = 9 rem & ~3 in whole groups at LR_P(k), the others in the tail at 2 k - j from col (col: the first
 * group's position plus 2 j). Constant positions for each rem. */
#define LR_RT(k, r, kx, nf) col[(k) < (nf) ? LR_P(k) : 2 * (k) - j] = (int16_t)((r)[kx] + off)
#define LR_RCH(c, nf) \
    do { \
        const int8_t *r = xp + (c) * hw; \
        LR_RT(9 * (c), r, 0, nf); \
        LR_RT(9 * (c) + 1, r, 1, nf); \
        LR_RT(9 * (c) + 2, r, 2, nf); \
        r += w; \
        LR_RT(9 * (c) + 3, r, 0, nf); \
        LR_RT(9 * (c) + 4, r, 1, nf); \
        LR_RT(9 * (c) + 5, r, 2, nf); \
        r += w; \
        LR_RT(9 * (c) + 6, r, 0, nf); \
        LR_RT(9 * (c) + 7, r, 1, nf); \
        LR_RT(9 * (c) + 8, r, 2, nf); \
    } while (0)
static void rem3(const int8_t *xp, int32_t hw, int32_t w, int32_t off, int32_t rem, int32_t j, int16_t *col)
{
    if (rem == 1) {
        LR_RCH(0, 8);
    } else if (rem == 2) {
        LR_RCH(0, 16);
        LR_RCH(1, 16);
    } else {
        LR_RCH(0, 24);
        LR_RCH(1, 24);
        LR_RCH(2, 24);
    }
}
#undef LR_RCH
#undef LR_RT

/* Border pixel of a 3 x 3, dilation 1 kernel: the first i4 input channels (a multiple of 4), four at a time
 * with constant positions; padding taps 0 (no load). */
static void border3(const lr_geom *g, const int8_t *x, int32_t iy0, int32_t ix0, int32_t off, int32_t i4,
                    int16_t *col)
{
    const int32_t hw = g->h * g->w, w = g->w;
    const int v0 = ix0 >= 0 && ix0 < w, v1 = ix0 + 1 >= 0 && ix0 + 1 < w, v2 = ix0 + 2 >= 0 && ix0 + 2 < w;
    /* row pointers at column ix0 (only dereferenced at valid columns) */
    const int8_t *r0 = iy0 >= 0 && iy0 < g->h ? x + iy0 * w : NULL;
    const int8_t *r1 = iy0 + 1 >= 0 && iy0 + 1 < g->h ? x + (iy0 + 1) * w : NULL;
    const int8_t *r2 = iy0 + 2 >= 0 && iy0 + 2 < g->h ? x + (iy0 + 2) * w : NULL;
    int32_t i;
    r0 = r0 != NULL ? r0 + ix0 : NULL;
    r1 = r1 != NULL ? r1 + ix0 : NULL;
    r2 = r2 != NULL ? r2 + ix0 : NULL;
    for (i = 0; i < i4; i += 4) {
        LR_CH3B(0);
        LR_CH3B(1);
        LR_CH3B(2);
        LR_CH3B(3);
        col += 72;
    }
}

/* An interior pixel of a 3 x 3, dilation 1 kernel: cin_g input channels from xp, four at a time with constant
 * positions (col: the first group's position plus 2 j), then the last 1 - 3 (rem3). */
static void inside3(const int8_t *xp, int32_t hw, int32_t w, int32_t off, int32_t cin_g, int32_t j, int16_t *col)
{
    int32_t i;
    for (i = 0; i + 4 <= cin_g; i += 4) { /* 36 taps: nine whole groups */
        LR_CH3(0);
        LR_CH3(1);
        LR_CH3(2);
        LR_CH3(3);
        xp += 4 * hw;
        col += 72;
    }
    if (i < cin_g) {
        rem3(xp, hw, w, off, cin_g - i, j, col);
    }
}

#endif

/* An inside 1 x 1 tap's input channels four a step (one group each), x + off at their constant positions of the
 * pixel's column cp (col + 2 j), from xp (channel 0's value; channels hw apart): the groups of n channels; returns
 * the channels taken (n rounded down to four). */
static inline int32_t pw_groups(const int8_t *xp, int32_t hw, int32_t off, int32_t n, int16_t *cp)
{
    int32_t i;
    for (i = 0; i + 4 <= n; i += 4) {
        cp[0] = (int16_t)(xp[0] + off);
        cp[4] = (int16_t)(xp[hw] + off);
        cp[1] = (int16_t)(xp[2 * hw] + off);
        cp[5] = (int16_t)(xp[3 * hw] + off);
        xp += 4 * hw;
        cp += 8;
    }
    return i;
}

/* The int16 step to tap k's position in a pixel's column from tap k - 1's inside the whole groups of four, by
 * k & 3 (lr_opt_col_pos: a group's taps 0, 1, 2, 3 at 0, 4, 1, 5, the next group 8 on). */
static const int8_t col_step[4] = {3, 4, -3, 4};

/* Pixel j's taps k.. of the interleaved columns at col, from input channel i on (tap k its first), the window's
 * top-left input position (iy0, ix0); taps outside the input 0 (border pixels, and what the faster gathers
 * leave). The position stepped (col_step) rather than computed. */
static LR_NOINLINE void gather_taps(const lr_geom *g, const int8_t *x, int32_t iy0, int32_t ix0, int32_t off,
                                    int32_t i, int32_t k, int32_t j, int16_t *col)
{
    const int32_t h = g->h, w = g->w, kw = g->kw, kh = g->kh, per = g->cin_g * kh * kw, nfull = per & ~3;
    const int8_t *xc = x + (size_t)i * (size_t)(h * w);
    int32_t t = nfull - k, n = per - k, iy = iy0, ix = ix0, kx = kw, ky = kh;
    int16_t *cp = col + lr_opt_col_pos(k, nfull, j);
    for (; n != 0; n--) {
        *cp = (int16_t)((uint32_t)iy < (uint32_t)h && (uint32_t)ix < (uint32_t)w ? xc[iy * w + ix] + off : 0);
        /* t: the taps left in the whole groups after this one; (-t) & 3 is the next one's phase (col_step takes
         * either); the tail's first at 2 nfull + j */
        --t;
        cp += t > 0 ? col_step[t & 3] : t == 0 ? 3 - j : 2;
        ix += g->dw;
        if (--kx == 0) {
            kx = kw;
            ix = ix0;
            iy += g->dh;
            if (--ky == 0) {
                ky = kh;
                iy = iy0;
                xc += h * w;
            }
        }
    }
}

/* Both pixels of a pair inside the input, in one output row (pixel 1 sw bytes after pixel 0 in every tap): all
 * taps of both columns at col in one pass from the window's top-left input byte xp, the two values of a tap
 * stored together (2 apart in the whole groups of four, adjacent in the tail). */
static LR_NOINLINE void gather_inside2(const lr_geom *g, const int8_t *xp, int32_t off, int16_t *col)
{
    const int32_t kw = g->kw, kh = g->kh, dw = g->dw, sw = g->sw;
    const int32_t row = g->dh * g->w - kw * dw, chan = g->h * g->w - kh * g->dh * g->w;
    const int32_t per = g->cin_g * kh * kw;
    int32_t t = per & ~3, kx = kw, ky = kh;
/* the next tap's input byte: along the kernel row, then the next row, then the next channel */
#define LR_NEXT_TAP() \
    do { \
        xp += dw; \
        if (--kx == 0) { \
            kx = kw; \
            xp += row; \
            if (--ky == 0) { \
                ky = kh; \
                xp += chan; \
            } \
        } \
    } while (0)
    while (t-- != 0) { /* the whole groups of four (t taps left in them); the last step lands on the tail */
        col[0] = (int16_t)(xp[0] + off);
        col[2] = (int16_t)(xp[sw] + off);
        col += col_step[t & 3]; /* (-t) & 3 is the next tap's phase; col_step takes either */
        LR_NEXT_TAP();
    }
    for (t = per & 3; t != 0; t--) {
        col[0] = (int16_t)(xp[0] + off);
        col[1] = (int16_t)(xp[sw] + off);
        col += 2;
        LR_NEXT_TAP();
    }
#undef LR_NEXT_TAP
}

void lr_opt_im2col(const lr_geom *g, const int8_t *x, int32_t oy, int32_t ox, int32_t in_offset, int32_t j,
                   int16_t *col)
{
    const int32_t iy0 = oy * g->sh - g->pt, ix0 = ox * g->sw - g->pl;
    const int32_t off = in_offset;
    int32_t i = 0;
#if LR_OPT_FAST
    const int32_t hw = g->h * g->w, w = g->w;
    const int k3 = g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1;
    if (iy0 >= 0 && iy0 + (g->kh - 1) * g->dh < g->h && ix0 >= 0 && ix0 + (g->kw - 1) * g->dw < g->w) {
        const int8_t *xp = x + iy0 * w + ix0;
        if (k3) {
            inside3(xp, hw, w, off, g->cin_g, j, col + 2 * j);
            return;
        }
        if (g->kh == 1 && g->kw == 1) {
            i = pw_groups(xp, hw, off, g->cin_g, col + 2 * j);
        }
    } else if (k3) {
        i = g->cin_g & ~3;
        border3(g, x, iy0, ix0, off, i, col + 2 * j);
    }
#else
    if (g->kh == 1 && g->kw == 1 && iy0 >= 0 && iy0 < g->h && ix0 >= 0 && ix0 < g->w) {
        /* a 1 x 1 tap inside (pointwise convs: most of a depthwise-separable net's multiply-adds): the fast build's
         * interior 1 x 1 loop; the rest below */
        i = pw_groups(x + iy0 * g->w + ix0, g->h * g->w, off, g->cin_g, col + 2 * j);
    }
#endif
    if (i < g->cin_g) {
        gather_taps(g, x, iy0, ix0, off, i, i * g->kh * g->kw, j, col);
    }
}

void lr_opt_im2col2(const lr_geom *g, const int8_t *x, int32_t q, int32_t in_offset, int16_t *col)
{
    const int32_t q1 = q + 1 < g->oh * g->ow ? q + 1 : q;
    const int32_t oy = q / g->ow, ox = q % g->ow, iy0 = oy * g->sh - g->pt, ix0 = ox * g->sw - g->pl;
    if (!(g->kh == 1 && g->kw == 1) && !(LR_OPT_FAST && g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1) &&
        ox + 1 < g->ow && iy0 >= 0 && iy0 + (g->kh - 1) * g->dh < g->h && ix0 >= 0 &&
        ix0 + g->sw + (g->kw - 1) * g->dw < g->w) {
        /* both pixels inside, one row (1 x 1 kernels, and 3 x 3 ones with the fast paths: per pixel, constant
         * positions) */
        gather_inside2(g, x + iy0 * g->w + ix0, in_offset, col);
        return;
    }
    lr_opt_im2col(g, x, oy, ox, in_offset, 0, col);
    lr_opt_im2col(g, x, q1 / g->ow, q1 % g->ow, in_offset, 1, col);
}

/* acc[c][q] += dot(weights of channel c, column q) for the two channels at w0, w1 (per bytes each) and the
 * interleaved columns at col. */
static void dot(const unsigned char *w0, const unsigned char *w1, int32_t per, const int32_t *col, int32_t acc[4])
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    const int32_t nfull = per & ~3;
    const int16_t *tail = (const int16_t *)(const void *)(col + nfull);
    const int8_t *v0 = (const int8_t *)(const void *)w0, *v1 = (const int8_t *)(const void *)w1;
    int32_t k = 0;
#if LR_DSP
#if LR_DOT_LOOP_ASM
    { /* in inline assembly: one group of four taps if their number is odd, then eight per step (-Os: four) */
        const int32_t *const cend = col + nfull;
        const int32_t d = (int32_t)(w1 - w0) - 4; /* channel 1's word from the post-incremented pointer */
        const unsigned char *wp = w0;
        uint32_t ta, tb, c0, c1, t;
#define LR_DOT4 \
    LR_DOT4_TEXT("%[ta]", "%[tb]", "%[c0]", "%[c1]", "%[t]", "%[wp]", "%[col]", "%[d]", "%[a00]", "%[a01]", "%[a10]", \
                 "%[a11]")
#define LR_DOT_OPERANDS \
    : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [wp] "+r"(wp), [col] "+r"(col), \
      [ta] "=&r"(ta), [tb] "=&r"(tb), [c0] "=&r"(c0), [c1] "=&r"(c1), [t] "=&r"(t) \
    : [d] "r"(d), [cend] "r"(cend) \
    : "cc", "memory"
#if LR_DOT_ASM
        if (nfull & 4) {
            __asm__ volatile(LR_DOT4 LR_DOT_OPERANDS);
        }
        if (col != cend) { /* 34 instructions per 32 multiply-adds */
            __asm__ volatile("1:\n\t" LR_DOT4 LR_DOT4 "cmp %[col], %[cend]\n\t"
                             "bne 1b" LR_DOT_OPERANDS);
        }
#else
        if (col != cend) { /* size-optimised: four taps per step, 18 instructions per 16 multiply-adds */
            __asm__ volatile("1:\n\t" LR_DOT4 "cmp %[col], %[cend]\n\t"
                             "bne 1b" LR_DOT_OPERANDS);
        }
#endif
#undef LR_DOT4
#undef LR_DOT_OPERANDS
        k = nfull;
    }
#else
    for (; k < nfull; k += 4) {
        const uint32_t wa = lr_ld32(w0 + k), wb = lr_ld32(w1 + k);
        const int16x2_t p0a = col[0], p1a = col[1], p0b = col[2], p1b = col[3];
        int16x2_t t = lr_sx02(wa);
        a00 = __smlad(t, p0a, a00);
        a01 = __smlad(t, p1a, a01);
        t = lr_sx13(wa);
        a00 = __smlad(t, p0b, a00);
        a01 = __smlad(t, p1b, a01);
        t = lr_sx02(wb);
        a10 = __smlad(t, p0a, a10);
        a11 = __smlad(t, p1a, a11);
        t = lr_sx13(wb);
        a10 = __smlad(t, p0b, a10);
        a11 = __smlad(t, p1b, a11);
        col += 4;
    }
#endif
#else
    for (; k < nfull; k += 4) {
        const int16_t *c = (const int16_t *)(const void *)col;
        const int32_t wa0 = lr_s8(w0[k]), wa1 = lr_s8(w0[k + 1]), wa2 = lr_s8(w0[k + 2]), wa3 = lr_s8(w0[k + 3]);
        const int32_t wb0 = lr_s8(w1[k]), wb1 = lr_s8(w1[k + 1]), wb2 = lr_s8(w1[k + 2]), wb3 = lr_s8(w1[k + 3]);
        a00 += wa0 * c[0] + wa2 * c[1] + wa1 * c[4] + wa3 * c[5];
        a01 += wa0 * c[2] + wa2 * c[3] + wa1 * c[6] + wa3 * c[7];
        a10 += wb0 * c[0] + wb2 * c[1] + wb1 * c[4] + wb3 * c[5];
        a11 += wb0 * c[2] + wb2 * c[3] + wb1 * c[6] + wb3 * c[7];
        col += 4;
    }
#endif
    for (; k < per; k++, tail += 2) {
        const int32_t wa = v0[k], wb = v1[k];
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

#if LR_DOT_ASM
/* Both columns of pixels q and q + 1 (q + 1 < npx) of a 1 x 1, stride-1, unpadded conv, where the two pixels are
 * adjacent bytes of every input channel: one halfword load per channel, two channels' halfwords in one word,
 * widened with the input offset added by SXTAB16 (13 instructions per four channels, eight values; the general
 * gather takes about 11 per value). */
static void col_pw2(const int8_t *x, int32_t hw, int32_t cin, int32_t off, int32_t *col)
{
    const int16x2_t off2 = lr_as_i32(((uint32_t)off & 0xffffu) | ((uint32_t)off << 16));
    int16_t *tail;
    int32_t i;
    for (i = 0; i + 4 <= cin; i += 4, x += 4 * hw, col += 4) {
        uint16_t h0, h1, h2, h3;
        uint32_t u02, u13;
        memcpy(&h0, x, 2);
        memcpy(&h1, x + hw, 2);
        memcpy(&h2, x + 2 * hw, 2);
        memcpy(&h3, x + 3 * hw, 2);
        u02 = (uint32_t)h0 | ((uint32_t)h2 << 16);
        u13 = (uint32_t)h1 | ((uint32_t)h3 << 16);
        col[0] = lr_sxa02(off2, u02);
        col[1] = lr_sxa13(off2, u02);
        col[2] = lr_sxa02(off2, u13);
        col[3] = lr_sxa13(off2, u13);
    }
    tail = (int16_t *)(void *)col; /* the last cin % 4 taps as (pixel q, pixel q + 1) pairs */
    for (; i < cin; i++, x += hw, tail += 2) {
        tail[0] = (int16_t)(x[0] + off);
        tail[1] = (int16_t)(x[1] + off);
    }
}

/* pairs_sat / pairs_clamp: pairs' loop for the common case in assembly, the accumulators in registers from the
 * bias to the output bytes. Every channel pair of a pixel pair (two pixels, an even number of channels), with
 * per-channel requantisation whose every channel has a right shift e = 1 .. 31 and a multiplier > 0 (lr_opt_out2's
 * fast case) or a multiplier of 0, a bias, and per >= 4 (pairs_asm_ok). Per pair: both biases, the dot products as
 * dot's assembly (LR_DOT4_TEXT; four taps first if per / 4 is odd) over the whole groups of four taps, then (pairs_tail,
 * where per is not a multiple of 4: an RGB stem's 27 = 24 + 3) the last per % 4 taps one at a time as dot's C tail
 * (the channels' bytes by LDRSB, the two pixels' int16 pair by one LDR, SMLABB / SMLABT: 10 instructions per 4
 * multiply-adds), then each channel's constants
 * (lr_opt_kpos, lr_opt_zc from its multiplier and shift) and its two outputs (SMLAL by the multiplier and by
 * [v < 0] INT32_MIN onto kpos, the high word shifted, zc added): SSAT to int8 (pairs_sat, for act_min -128 and
 * act_max 127) or clamped to [act_min, act_max] (pairs_clamp, pairs_tail). About 90 instructions per pair besides the dot
 * products (pairs' C: about 200). The context's pointers advance pair by pair; its layout is the assembly's (the
 * offsets below). */
typedef struct lr_pairs_ctx {
    const unsigned char *w; /*  0: the pair's channel-0 weights (channel 1's at w + per) */
    const int32_t *col;     /*  4: the columns */
    const int32_t *cend;    /*  8: col + (per & ~3) (words: one per tap; the tail's after it) */
    int32_t d;              /* 12: per - 4: channel 1's weight word from channel 0's post-incremented pointer */
    int32_t odd4;           /* 16: per & 4: one group of four taps before the pairs of groups */
    const unsigned char *bias;  /* 20: the pair's channel-0 bias (int32, little-endian) */
    const unsigned char *mult;  /* 24: its multiplier */
    const unsigned char *shift; /* 28: its shift (int8) */
    int8_t *y;                  /* 32: its output at pixel q (channel 1's at y + npx) */
    int32_t npx;                /* 36 */
    int32_t zp, lo, hi;         /* 40, 44, 48 */
    int32_t n;                  /* 52: channel pairs */
} lr_pairs_ctx;
typedef char lr_pairs_ctx_layout[offsetof(lr_pairs_ctx, n) == 52 && sizeof(void *) == 4 ? 1 : -1];

/* Registers in the dot: r0 .. r3 the accumulators (channel 0 pixel 0, channel 0 pixel 1, channel 1 ...), r4 the
 * weights, r5 the columns, r6 their end, r7 d, r8 - r12 temporaries; then m r2, sh r3, INT32_MIN r4, kpos r5 (high)
 * and r7 (low), zc r6, the 64-bit sum r10, r11, lo / hi r8 / r9 (pairs_clamp, pairs_tail); lr the context. In the
 * tail (after the groups: r4 at channel 0's tap, r5 at its column pair) r6 counts the taps left, d & 3 = per & 3. */
#define LR_PDOT4 LR_DOT4_TEXT("r8", "r9", "r10", "r11", "r12", "r4", "r5", "r7", "r0", "r1", "r2", "r3")
/* A channel's constants from its multiplier r2 and shift r3: sh = -shift - 1 (r3), kpos (r5 high, r7 low), zc. A
 * channel of multiplier 0 gives zp for every v and every shift the verifier allows (-31 .. 30; -32 would not): with
 * sh 0 .. 30 the high word of kpos - [v < 0] 2^31 shifted by sh is 2^(30 - sh), which zc takes away; any other sh
 * is 32 or more in the low byte a register shift takes, and both shifts give 0. */
#define LR_PCONST \
    "mvn r3, r3\n\t" \
    "mov r12, #1\n\t" \
    "lsl r12, r12, r3\n\t" \
    "lsr r5, r12, #1\n\t" \
    "add r5, r5, #0x40000000\n\t" \
    "lsl r7, r12, #31\n\t" \
    "add r7, r7, #0x40000000\n\t" \
    "mov r12, #0x40000000\n\t" \
    "lsr r12, r12, r3\n\t" \
    "ldr r6, [lr, #40]\n\t" \
    "sub r6, r6, r12\n\t"
/* MBQM(v) + zp of accumulator v, unclamped, into v. */
#define LR_PRQ(v) LR_RQ_TEXT(v, "r12", v, "r10", "r11", "r7", "r5", "r2", "r4", "r3", "r6")
#define LR_PSAT(v) "ssat " v ", #8, " v "\n\t"
#define LR_PCLAMP(v) \
    "cmp " v ", r8\n\t" \
    "it lt\n\t" \
    "movlt " v ", r8\n\t" \
    "cmp " v ", r9\n\t" \
    "it gt\n\t" \
    "movgt " v ", r9\n\t"
/* pairs_tail's last per % 4 taps. */
#define LR_PTAIL \
    "and r6, r7, #3\n" \
    "4:\n\t" \
    "add r10, r4, r7\n\t" \
    "ldrsb r10, [r10, #4]\n\t" \
    "ldrsb r9, [r4], #1\n\t" \
    "ldr r11, [r5], #4\n\t" \
    "smlabb r0, r9, r11, r0\n\t" \
    "smlabt r1, r9, r11, r1\n\t" \
    "smlabb r2, r10, r11, r2\n\t" \
    "smlabt r3, r10, r11, r3\n\t" \
    "subs r6, r6, #1\n\t" \
    "bne 4b\n\t"
#define LR_PAIRS_ASM(LOHI, CLAMP, TAIL) \
    __asm__ volatile("push {r4-r11, lr}\n\t" \
                     "sub sp, sp, #20\n\t" \
                     "mov lr, r0\n" \
                     "1:\n\t" \
                     "ldm lr, {r4-r8}\n\t" \
                     "ldr r9, [lr, #20]\n\t" \
                     "ldr r0, [r9], #4\n\t" \
                     "ldr r2, [r9], #4\n\t" \
                     "str r9, [lr, #20]\n\t" \
                     "mov r1, r0\n\t" \
                     "mov r3, r2\n\t" \
                     "cmp r8, #0\n\t" \
                     "bne 3f\n" \
                     "2:\n\t" LR_PDOT4 "3:\n\t" LR_PDOT4 \
                     "cmp r5, r6\n\t" \
                     "bne 2b\n\t" TAIL \
                     "add r4, r4, r7\n\t" \
                     "add r4, r4, #4\n\t" \
                     "str r4, [lr]\n\t" \
                     "strd r2, r3, [sp]\n\t" \
                     "ldrd r8, r9, [lr, #24]\n\t" \
                     "ldr r2, [r8, #4]\n\t" \
                     "ldrsb r3, [r9, #1]\n\t" \
                     "strd r2, r3, [sp, #8]\n\t" \
                     "ldr r2, [r8], #8\n\t" \
                     "ldrsb r3, [r9], #2\n\t" \
                     "strd r8, r9, [lr, #24]\n\t" LOHI \
                     "mov r4, #0x80000000\n\t" LR_PCONST LR_PRQ("r0") CLAMP("r0") LR_PRQ("r1") CLAMP("r1") \
                     "ldr r12, [lr, #32]\n\t" \
                     "strb r0, [r12]\n\t" \
                     "strb r1, [r12, #1]\n\t" \
                     "ldrd r0, r1, [sp]\n\t" \
                     "ldrd r2, r3, [sp, #8]\n\t" LR_PCONST LR_PRQ("r0") CLAMP("r0") LR_PRQ("r1") CLAMP("r1") \
                     "ldrd r12, r11, [lr, #32]\n\t" \
                     "add r12, r12, r11\n\t" \
                     "strb r0, [r12]\n\t" \
                     "strb r1, [r12, #1]\n\t" \
                     "add r12, r12, r11\n\t" \
                     "str r12, [lr, #32]\n\t" \
                     "ldr r0, [lr, #52]\n\t" \
                     "subs r0, r0, #1\n\t" \
                     "str r0, [lr, #52]\n\t" \
                     "bne 1b\n\t" \
                     "add sp, sp, #20\n\t" \
                     "pop {r4-r11, pc}\n\t")
static LR_NOINLINE __attribute__((naked)) void pairs_sat(lr_pairs_ctx *c __attribute__((unused)))
{
    LR_PAIRS_ASM("", LR_PSAT, "");
}

static LR_NOINLINE __attribute__((naked)) void pairs_clamp(lr_pairs_ctx *c __attribute__((unused)))
{
    LR_PAIRS_ASM("ldrd r8, r9, [lr, #44]\n\t", LR_PCLAMP, "");
}

/* Either requantisation's range (SSAT to int8 is the clamp to [-128, 127]), per not a multiple of 4. */
static LR_NOINLINE __attribute__((naked)) void pairs_tail(lr_pairs_ctx *c __attribute__((unused)))
{
    LR_PAIRS_ASM("ldrd r8, r9, [lr, #44]\n\t", LR_PCLAMP, LR_PTAIL);
}
#undef LR_PAIRS_ASM
#undef LR_PTAIL
#undef LR_PCLAMP
#undef LR_PSAT
#undef LR_PRQ
#undef LR_PCONST
#undef LR_PDOT4

/* 1 if pairs_sat / pairs_clamp / pairs_tail take the op: per-channel requantisation whose every channel has
 * lr_opt_out2's fast case (a right shift and a multiplier > 0) or a multiplier of 0 (a dead channel: zp), a bias,
 * and per >= 4 (a whole group of four taps at least). */
static int pairs_asm_ok(const lr_geom *g, const lr_dense_s8_params *p, int32_t per)
{
    uint32_t o;
    if (p->bias == NULL || p->rq.n != (uint32_t)g->oc || per < 4) {
        return 0;
    }
    for (o = 0u; o < (uint32_t)g->oc; o++) {
        const int32_t m = lr_opt_lei32(p->rq.mult + 4u * o), s = lr_s8(p->rq.shift[o]);
        if (m < 0 || (m > 0 && (uint32_t)(-s - 1) > 30u)) { /* dead channels (multiplier 0): any verified shift */
            return 0;
        }
    }
    return 1;
}
#endif

#if LR_OPT_FAST
/* One output pixel of a one-input-channel kernel w (kh * kw values) at any position, as the reference. */
static int32_t pixel1(const lr_geom *g, const int8_t *x, const int16_t *w, int32_t acc, int32_t in_offset, int32_t oy,
                      int32_t ox)
{
    int32_t ky, kx;
    for (ky = 0; ky < g->kh; ky++) {
        const int32_t iy = oy * g->sh - g->pt + ky * g->dh;
        if (iy < 0 || iy >= g->h) {
            continue;
        }
        for (kx = 0; kx < g->kw; kx++) {
            const int32_t ix = ox * g->sw - g->pl + kx * g->dw;
            if (ix >= 0 && ix < g->w) {
                acc += w[ky * g->kw + kx] * ((int32_t)x[iy * g->w + ix] + in_offset);
            }
        }
    }
    return acc;
}

/* The sums acc[0 .. n - 1] of n interior pixels of one output row (n >= 1), pixel j's taps at p + j + ky * ww + kx:
 * start + sum w x. pk: the weights as chan3x3 packs them (DSP: the rows' (w0, w2) pairs, then their w1), w: the
 * nine values. A leaf of its own: the loop gets the registers. */
static LR_NOINLINE void run3(const int8_t *p, int32_t ww, int32_t n, const int32_t *pk, const int16_t *w, int32_t start,
                 int32_t *acc)
{
    int32_t *const end = acc + (n & ~1);
#if LR_DSP
    const int16x2_t a0 = pk[0], a1 = pk[1], a2 = pk[2], b0 = pk[3], b1 = pk[4], b2 = pk[5];
#else
    (void)pk; /* the portable loop reads w */
#endif
    for (; acc < end; acc += 2, p += 2) {
        int32_t s0 = start, s1 = start;
#if LR_DSP
        uint32_t v = lr_ld32(p);
        int16x2_t e = lr_sx02(v), o = lr_sx13(v);
        s0 = __smlad(a0, e, s0);
        s0 = __smlad(b0, o, s0);
        s1 = __smlad(a0, o, s1);
        s1 = __smladx(b0, e, s1);
        v = lr_ld32(p + ww);
        e = lr_sx02(v);
        o = lr_sx13(v);
        s0 = __smlad(a1, e, s0);
        s0 = __smlad(b1, o, s0);
        s1 = __smlad(a1, o, s1);
        s1 = __smladx(b1, e, s1);
        v = lr_ld32(p + 2 * ww);
        e = lr_sx02(v);
        o = lr_sx13(v);
        s0 = __smlad(a2, e, s0);
        s0 = __smlad(b2, o, s0);
        s1 = __smlad(a2, o, s1);
        s1 = __smladx(b2, e, s1);
#else
        const int8_t *q = p;
        int32_t ky;
        for (ky = 0; ky < 3; ky++, q += ww) {
            const int32_t x0 = q[0], x1 = q[1], x2 = q[2], x3 = q[3];
            const int32_t w0 = w[3 * ky], w1 = w[3 * ky + 1], w2 = w[3 * ky + 2];
            s0 += w0 * x0 + w1 * x1 + w2 * x2;
            s1 += w0 * x1 + w1 * x2 + w2 * x3;
        }
#endif
        acc[0] = s0;
        acc[1] = s1;
    }
    if (n & 1) { /* the last pixel alone (no fourth byte read: it may lie past the row) */
        int32_t ky;
        for (ky = 0; ky < 3; ky++, p += ww) {
            start += w[3 * ky] * p[0] + w[3 * ky + 1] * p[1] + w[3 * ky + 2] * p[2];
        }
        acc[0] = start;
    }
}

/* Output channel y of a 3 x 3, stride 1, dilation 1 conv of the one input channel x (the 1-channel stem, and
 * depthwise; the LinRep direct path's too, its kernels rebuilt as int16): taps of a kernel row are contiguous
 * bytes, so interior pixels go in pairs from one word per row, acc = bias + in_offset * sum(w) + sum w * x (as
 * lr_conv2d_channel_s8_opt). With the DSP extension the word's bytes (x0, x2) and (x1, x3) (SXTB16) meet the row's
 * weights (w0, w2) and (w1, 0): pixel 0 = (w0, w2).(x0, x2) + (w1, 0).(x1, x3), pixel 1 = (w0, w2).(x1, x3) +
 * (w1, 0) x (x0, x2) crossed (SMLADX): four SMLADs for six multiply-adds (run3). A row's interior pixels are summed
 * LR_C3_RUN at a time, then requantised together (lr_opt_requant_n: its constants in registers; per pixel, each
 * store to y would reload them). Border pixels take the reference's loop. */
#define LR_C3_RUN 8 /* interior pixels summed before their requantisation: 32 bytes of stack */

/* The nine kernel values w: each kernel row's (w0, w2) as an int16 pair into pk[0 .. 2] (lr_opt_chan3x3,
 * lr_opt_plane3x3); returns the sums' start, bias + in_offset * sum(w). */
static LR_OPT_INLINE int32_t pack_rows02(const int16_t *w, int32_t bias, int32_t in_offset, int32_t *pk)
{
    int32_t sumw = 0, k;
    for (k = 0; k < 3; k++) {
        pk[k] = lr_as_i32((uint32_t)(uint16_t)w[3 * k] | ((uint32_t)(uint16_t)w[3 * k + 2] << 16));
    }
    for (k = 0; k < 9; k++) {
        sumw += w[k];
    }
    return bias + sumw * in_offset;
}

void lr_opt_chan3x3(const lr_geom *g, const int8_t *x, const int16_t *w, int32_t bias, int32_t in_offset,
                    const lr_requant_s8 *q, uint32_t o, int8_t *y)
{
    lr_opt_rq rqo;
    const lr_opt_rq *rq = &rqo;
    const int32_t ylo = lr_range_lo(-g->pt, 1), yhi = lr_range_hi(2 - g->pt, 1, g->h, g->oh);
    const int32_t xlo = lr_range_lo(-g->pl, 1), xhi = lr_range_hi(2 - g->pl, 1, g->w, g->ow);
    const int32_t ww = g->w;
    int32_t acc[LR_C3_RUN], pk[6];
    const int32_t sumw = pack_rows02(w, bias, in_offset, pk);
    int32_t k, oy, ox;
    lr_opt_rq_init(&rqo, q, o);
    for (k = 0; k < 3; k++) {
        pk[3 + k] = (int32_t)(uint16_t)w[3 * k + 1];
    }
    for (oy = 0; oy < g->oh; oy++) {
        int8_t *yr = y + oy * g->ow;
        ox = 0;
        if (oy >= ylo && oy < yhi) {
            const int8_t *xr = x + (oy - g->pt) * ww - g->pl;
            for (; ox < xlo; ox++) {
                yr[ox] = lr_opt_requant(pixel1(g, x, w, bias, in_offset, oy, ox), rq);
            }
            while (ox < xhi) {
                const int32_t n = xhi - ox < LR_C3_RUN ? xhi - ox : LR_C3_RUN;
                run3(xr + ox, ww, n, pk, w, sumw, acc);
                lr_opt_requant_run(acc, n, rq, yr + ox);
                ox += n;
            }
        }
        for (; ox < g->ow; ox++) {
            yr[ox] = lr_opt_requant(pixel1(g, x, w, bias, in_offset, oy, ox), rq);
        }
    }
}

/* lr_opt_plane3x3's sums per call: whole output rows while rows * ow + 1 fit (the spare slot: below), else pieces of
 * rows. 128 bytes of stack. */
#define LR_P3_ACC 32

/* The sums start + sum w x of `rows` output rows of n pixels (n >= 1) at stride s (1 or 2) on a padded plane of row
 * stride ww (every tap inside; output row r on plane rows s r .. s r + 2) into acc[r * n + j]: ceil(n / 2) pixel
 * pairs per row, each from one word per kernel row (and at stride 2 the byte after it). With an odd n a row's last
 * pair also sums pixel n (its reads go up to 2 s - 1 bytes past the row's n pixels: the plane's next row, or at its
 * end the spare bytes lr_conv2d_s8_opt_plane_words counts), whose slot is the next row's first, written again by
 * that row (the last row's: acc[rows * n], the caller's spare slot). pk: (w0, w2) of each kernel row, then (w1 of
 * row 0, w1 of row 1) and w1 of row 2 (DSP); w: the nine values (portable). A leaf: the loops keep thirteen
 * registers. */
static LR_NOINLINE void rows3(const int8_t *p, int32_t ww, int32_t s, int32_t n, int32_t rows, const int32_t *pk,
                              const int16_t *w, int32_t start, int32_t *acc)
{
    const int32_t span = (n + 1) & ~1; /* the sums a row writes */
#if LR_DSP && defined(__GNUC__)
    const int32_t a0 = pk[0], a1 = pk[1], a2 = pk[2], b01 = pk[3], b2 = pk[4];
    const int32_t askip = 4 * (n - span), estep = 4 * n; /* from a row's last pair to the next row */
    int32_t left = rows;
    int32_t *a = acc, *end = acc + span;
    int32_t s0, s1;
    uint32_t v, e;
    (void)w;
    if (s == 1) { /* pixel 0 = (w0, w2).(x0, x2) + w1 x1, pixel 1 = (w0, w2).(x1, x3) + w1 x2 per kernel row: 26
                   * instructions per pair, the start and the rows' steps from memory (the registers are taken) */
        const int32_t qskip = ww - span;
        const int8_t *q = p;
        __asm__ volatile("1:\n\t"
                         "ldr %[s0], %[start]\n\t"
                         "ldr %[v], [%[q]]\n\t"
                         "mov %[s1], %[s0]\n\t"
                         "sxtb16 %[e], %[v]\n\t"
                         "sxtb16 %[v], %[v], ror #8\n\t"
                         "smlad %[s0], %[a0], %[e], %[s0]\n\t"
                         "smlabb %[s0], %[v], %[b01], %[s0]\n\t"
                         "smlad %[s1], %[a0], %[v], %[s1]\n\t"
                         "smlatb %[s1], %[e], %[b01], %[s1]\n\t"
                         "ldr %[v], [%[q], %[ww]]\n\t"
                         "sxtb16 %[e], %[v]\n\t"
                         "sxtb16 %[v], %[v], ror #8\n\t"
                         "smlad %[s0], %[a1], %[e], %[s0]\n\t"
                         "smlabt %[s0], %[v], %[b01], %[s0]\n\t"
                         "smlad %[s1], %[a1], %[v], %[s1]\n\t"
                         "smlatt %[s1], %[e], %[b01], %[s1]\n\t"
                         "ldr %[v], [%[q], %[ww], lsl #1]\n\t"
                         "sxtb16 %[e], %[v]\n\t"
                         "sxtb16 %[v], %[v], ror #8\n\t"
                         "smlad %[s0], %[a2], %[e], %[s0]\n\t"
                         "smlabb %[s0], %[v], %[b2], %[s0]\n\t"
                         "smlad %[s1], %[a2], %[v], %[s1]\n\t"
                         "smlatb %[s1], %[e], %[b2], %[s1]\n\t"
                         "adds %[q], %[q], #2\n\t"
                         "strd %[s0], %[s1], [%[a]], #8\n\t"
                         "cmp %[a], %[end]\n\t"
                         "bne 1b\n\t"
                         "ldr %[v], %[left]\n\t"
                         "subs %[v], %[v], #1\n\t"
                         "beq 2f\n\t"
                         "str %[v], %[left]\n\t"
                         "ldr %[v], %[qskip]\n\t"
                         "add %[q], %[q], %[v]\n\t"
                         "ldr %[v], %[askip]\n\t"
                         "add %[a], %[a], %[v]\n\t"
                         "ldr %[v], %[estep]\n\t"
                         "add %[end], %[end], %[v]\n\t"
                         "b 1b\n"
                         "2:"
                         : [q] "+r"(q), [a] "+r"(a), [end] "+r"(end), [s0] "=&r"(s0), [s1] "=&r"(s1), [v] "=&r"(v),
                           [e] "=&r"(e), [left] "+m"(left)
                         : [a0] "r"(a0), [a1] "r"(a1), [a2] "r"(a2), [b01] "r"(b01), [b2] "r"(b2), [ww] "r"(ww),
                           [start] "m"(start), [qskip] "m"(qskip), [askip] "m"(askip), [estep] "m"(estep)
                         : "cc", "memory");
    } else { /* stride 2, per kernel row: pixel 0 = (w0, w2).(x0, x2) + w1 x1, pixel 1 = w0 x2 + w1 x3 + w2 x4, the
              * word x0 .. x3 and the byte x4 from one pointer per row: 33 instructions per pair, the loop's end in
              * memory too */
        const int32_t pskip = 2 * ww - 2 * span;
        const int8_t *p0 = p, *p1 = p + ww, *p2 = p + 2 * ww;
        __asm__ volatile("1:\n\t"
                         "ldr %[s0], %[start]\n\t"
                         "ldr %[v], [%[p0]], #4\n\t"
                         "mov %[s1], %[s0]\n\t"
                         "sxtb16 %[e], %[v]\n\t"
                         "sxtb16 %[v], %[v], ror #8\n\t"
                         "smlad %[s0], %[a0], %[e], %[s0]\n\t"
                         "smlabb %[s0], %[v], %[b01], %[s0]\n\t"
                         "smlatb %[s1], %[e], %[a0], %[s1]\n\t"
                         "smlatb %[s1], %[v], %[b01], %[s1]\n\t"
                         "ldrsb %[e], [%[p0]]\n\t"
                         "smlabt %[s1], %[e], %[a0], %[s1]\n\t"
                         "ldr %[v], [%[p1]], #4\n\t"
                         "sxtb16 %[e], %[v]\n\t"
                         "sxtb16 %[v], %[v], ror #8\n\t"
                         "smlad %[s0], %[a1], %[e], %[s0]\n\t"
                         "smlabt %[s0], %[v], %[b01], %[s0]\n\t"
                         "smlatb %[s1], %[e], %[a1], %[s1]\n\t"
                         "smlatt %[s1], %[v], %[b01], %[s1]\n\t"
                         "ldrsb %[e], [%[p1]]\n\t"
                         "smlabt %[s1], %[e], %[a1], %[s1]\n\t"
                         "ldr %[v], [%[p2]], #4\n\t"
                         "sxtb16 %[e], %[v]\n\t"
                         "sxtb16 %[v], %[v], ror #8\n\t"
                         "smlad %[s0], %[a2], %[e], %[s0]\n\t"
                         "smlabb %[s0], %[v], %[b2], %[s0]\n\t"
                         "smlatb %[s1], %[e], %[a2], %[s1]\n\t"
                         "smlatb %[s1], %[v], %[b2], %[s1]\n\t"
                         "ldrsb %[e], [%[p2]]\n\t"
                         "smlabt %[s1], %[e], %[a2], %[s1]\n\t"
                         "strd %[s0], %[s1], [%[a]], #8\n\t"
                         "ldr %[v], %[end]\n\t"
                         "cmp %[a], %[v]\n\t"
                         "bne 1b\n\t"
                         "ldr %[v], %[left]\n\t"
                         "subs %[v], %[v], #1\n\t"
                         "beq 2f\n\t"
                         "str %[v], %[left]\n\t"
                         "ldr %[v], %[pskip]\n\t"
                         "add %[p0], %[p0], %[v]\n\t"
                         "add %[p1], %[p1], %[v]\n\t"
                         "add %[p2], %[p2], %[v]\n\t"
                         "ldr %[v], %[askip]\n\t"
                         "add %[a], %[a], %[v]\n\t"
                         "ldr %[v], %[estep]\n\t"
                         "ldr %[e], %[end]\n\t"
                         "add %[e], %[e], %[v]\n\t"
                         "str %[e], %[end]\n\t"
                         "b 1b\n"
                         "2:"
                         : [p0] "+r"(p0), [p1] "+r"(p1), [p2] "+r"(p2), [a] "+r"(a), [s0] "=&r"(s0), [s1] "=&r"(s1),
                           [v] "=&r"(v), [e] "=&r"(e), [left] "+m"(left), [end] "+m"(end)
                         : [a0] "r"(a0), [a1] "r"(a1), [a2] "r"(a2), [b01] "r"(b01), [b2] "r"(b2),
                           [start] "m"(start), [pskip] "m"(pskip), [askip] "m"(askip), [estep] "m"(estep)
                         : "cc", "memory");
    }
#else
    int32_t r;
    (void)pk;
    for (r = 0; r < rows; r++, p += s * ww, acc += n) {
        const int8_t *q = p;
        int32_t j;
        for (j = 0; j < span; j += 2, q += 2 * s) {
            int32_t s0 = start, s1 = start, ky;
            for (ky = 0; ky < 3; ky++) {
                const int8_t *t = q + ky * ww;
                const int32_t w0 = w[3 * ky], w1 = w[3 * ky + 1], w2 = w[3 * ky + 2];
                s0 += w0 * t[0] + w1 * t[1] + w2 * t[2];
                s1 += w0 * t[s] + w1 * t[s + 1] + w2 * t[s + 2];
            }
            acc[j] = s0;
            acc[j + 1] = s1;
        }
    }
#endif
}

void lr_opt_plane_geom(const lr_geom *g, lr_geom *gp)
{
    *gp = *g;
    gp->h = g->sh * (g->oh - 1) + 3;
    gp->w = g->sw * (g->ow - 1) + 3;
    gp->pt = gp->pl = gp->pb = gp->pr = 0;
}

void lr_opt_plane3x3(const lr_geom *g, const int8_t *plane, const int16_t *w, int32_t bias, int32_t in_offset,
                     const lr_requant_s8 *q, uint32_t o, int8_t *y)
{
    const int32_t ow = g->ow, oh = g->oh, ww = g->w, s = g->sw;
    const int32_t per = (LR_P3_ACC - 1) / ow; /* whole rows per call (0: pieces of rows), and the spare slot */
    lr_opt_rq rq;
    int32_t acc[LR_P3_ACC], pk[5];
    const int32_t sumw = pack_rows02(w, bias, in_offset, pk);
    int32_t oy, ox;
    lr_opt_rq_init(&rq, q, o);
    pk[3] = lr_as_i32((uint32_t)(uint16_t)w[1] | ((uint32_t)(uint16_t)w[4] << 16));
    pk[4] = (int32_t)w[7];
    if (per > 0) {
        for (oy = 0; oy < oh; oy += per) {
            const int32_t n = oh - oy < per ? oh - oy : per;
            rows3(plane + oy * s * ww, ww, s, ow, n, pk, w, sumw, acc);
            lr_opt_requant_run(acc, n * ow, &rq, y + oy * ow);
        }
        return;
    }
    for (oy = 0; oy < oh; oy++) { /* wide rows: pieces of an even LR_P3_ACC - 2 pixels, the last one any */
        for (ox = 0; ox < ow; ox += LR_P3_ACC - 2) {
            const int32_t n = ow - ox < LR_P3_ACC - 2 ? ow - ox : LR_P3_ACC - 2;
            rows3(plane + oy * s * ww + ox * s, ww, s, n, 1, pk, w, sumw, acc);
            lr_opt_requant_run(acc, n, &rq, y + oy * ow + ox);
        }
    }
}

/* Convs with one input channel per group, 3 x 3, dilation 1, stride 1 (the stem; depthwise) or 2 (depthwise): given
 * lr_conv2d_s8_opt_plane_words(g) words of scratch, each input channel is first copied into a padded plane
 * (lr_opt_plane_geom, lr_opt_pad_plane) and lr_opt_plane3x3 runs on it: every pixel pair takes the word loads, whole
 * rows at a time (on narrow maps, such as a keyword-spotting net's 25 x 5, most pixels are border pixels
 * otherwise). With fewer words stride 1 takes lr_opt_chan3x3 on the input, stride 2 depthwise (below). */
static int one_channel(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int32_t *scratch,
                       uint32_t words, int8_t *y)
{
    const uint64_t need = lr_opt_plane3_words(g);
    const int8_t *const w8 = (const int8_t *)(const void *)p->w;
    int8_t *plane = (int8_t *)(void *)scratch;
    lr_geom gp = *g;
    int16_t w[9];
    int32_t o, k, have = -1;
    if (need == 0u || ((uint64_t)words < need && g->sh != 1)) {
        return 0;
    }
    if ((uint64_t)words >= need) {
        lr_opt_plane_geom(g, &gp);
    }
    for (o = 0; o < g->oc; o++) {
        const int32_t ic = o / g->cout_g;
        const int8_t *xc = x + (size_t)ic * (size_t)(g->h * g->w);
        if ((uint64_t)words >= need) {
            if (ic != have) {
                lr_opt_pad_plane(g, xc, -g->pt, gp.h, gp.w, (int8_t)-p->in_offset, plane, have < 0);
                have = ic;
            }
            xc = plane;
        }
        for (k = 0; k < 9; k++) {
            w[k] = w8[9 * o + k];
        }
        (have >= 0 ? lr_opt_plane3x3 : lr_opt_chan3x3)(&gp, xc, w, p->bias ? lr_opt_lei32(p->bias + 4u * (uint32_t)o) : 0,
                                                        p->in_offset, &p->rq, (uint32_t)o,
                                                        y + (size_t)o * (size_t)(g->oh * g->ow));
    }
    return 1;
}

#endif

#if LR_OPT_FAST
/* 1 x 1 convs, groups 1, no padding, any stride (the ResNet shortcuts), without columns: two output channels x
 * two output pixels per pass over the input channels, each pixel's cin values read in place at its strided
 * position (the pair may span two output rows: pixel 1 at xa + d). The accumulators start at bias + in_offset *
 * sum(w) (sum(w) once per output channel) and add w * x: equal to the reference's sum of w * (x + in_offset)
 * modulo 2^32, hence equal (it fits int32). With the DSP extension the pair's weights are first widened into
 * scratch as int16 words (w0[c], w0[c + 1]), (w1[c], w1[c + 1]) (cin words: the scratch the conv takes), and per
 * two input channels each pixel's bytes are paired (LDRSB, PKHBT) into the same order: four SMLADs for eight
 * multiply-adds, four input channels per step in inline assembly (28 instructions per 16 multiply-adds with the
 * loop; GCC's own allocation of the same C spilled). Then the four outputs' requantisation with both channels'
 * constants taken apart once per pair of channels and held in locals (pw_rq; lr_opt_requant for the shifts it
 * leaves to lr_requant). A fast path (LR_OPT_FAST): -Os builds keep the column path. */
#if LR_DSP
/* (lo, hi) as an int16 pair: PKHBT. */
static inline int16x2_t lr_pk(int32_t lo, int32_t hi)
{
    int16x2_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
}
#endif

#define LR_PW_RUN 16 /* stride 1: pixels summed before their requantisation (two channels: 128 bytes of stack) */

#if LR_DSP && defined(__GNUC__) && !defined(__OPTIMIZE_SIZE__)
/* Two input channels of two pixels (at [xa] and [xa, off]) into the 2 x 2 sums a00 .. a11: the pixels' bytes paired
 * by LDRSB and PKHBT, the two output channels' widened weight pairs by one LDRD (13 instructions; pw_dot, pw_run). */
#define LR_PW_STEP(off) \
    "ldrsb %[t0], [%[xa]]\n\t" \
    "ldrsb %[t1], [%[xa], " off "]\n\t" \
    "add %[xa], %[xa], %[hw]\n\t" \
    "ldrsb %[t2], [%[xa]]\n\t" \
    "pkhbt %[t0], %[t0], %[t2], lsl #16\n\t" \
    "ldrsb %[t2], [%[xa], " off "]\n\t" \
    "pkhbt %[t1], %[t1], %[t2], lsl #16\n\t" \
    "add %[xa], %[xa], %[hw]\n\t" \
    "ldrd %[t2], %[t3], [%[wp]], #8\n\t" \
    "smlad %[a00], %[t2], %[t0], %[a00]\n\t" \
    "smlad %[a01], %[t2], %[t1], %[a01]\n\t" \
    "smlad %[a10], %[t3], %[t0], %[a10]\n\t" \
    "smlad %[a11], %[t3], %[t1], %[a11]\n\t"
#endif

/* acc (pixels at xa and xa + d, channels w0, w1) += w * x over the cin input channels; wp: the DSP path's
 * widened weights. Inlined in both callers (a call per pixel pair costs the strided path ~30 instructions). */
static LR_OPT_INLINE void pw_dot(const int8_t *xa, int32_t d, int32_t hw, const int32_t *wp, const unsigned char *w0,
                                 const unsigned char *w1, int32_t cin, uint32_t acc[4])
{
    uint32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    int32_t k = 0;
#if LR_DSP
    const int32_t *wend = wp + 2 * (cin >> 1);
#if defined(__GNUC__) && !defined(__OPTIMIZE_SIZE__)
    if (cin >= 4) { /* four input channels per step: 28 instructions per 16 multiply-adds with the loop */
        const int32_t *w4 = wp + 4 * (cin >> 2);
        int32_t t0, t1, t2, t3;
        __asm__ volatile("1:\n\t"
                         LR_PW_STEP("%[d]") LR_PW_STEP("%[d]")
                         "cmp %[wp], %[w4]\n\t"
                         "bne 1b"
                         : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [xa] "+r"(xa),
                           [wp] "+r"(wp), [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), [t3] "=&r"(t3)
                         : [d] "r"(d), [hw] "r"(hw), [w4] "r"(w4)
                         : "cc", "memory");
        if ((cin & 3) == 0) { /* every input channel taken by the loop (only when it was compiled in) */
            acc[0] = a00;
            acc[1] = a01;
            acc[2] = a10;
            acc[3] = a11;
            return;
        }
    }
#endif
    for (; wp < wend; wp += 2) { /* input channels c, c + 1 of both pixels (xa moves two rows) */
        const int32_t lo = xa[0], hi = xa[d];
        int16x2_t e, f;
        xa += hw;
        e = lr_pk(lo, xa[0]);
        f = lr_pk(hi, xa[d]);
        xa += hw;
        a00 = (uint32_t)__smlad(wp[0], e, (int32_t)a00);
        a01 = (uint32_t)__smlad(wp[0], f, (int32_t)a01);
        a10 = (uint32_t)__smlad(wp[1], e, (int32_t)a10);
        a11 = (uint32_t)__smlad(wp[1], f, (int32_t)a11);
    }
    k = cin & ~1;
#else
    (void)wp;
#endif
    for (; k < cin; k++, xa += hw) {
        const int32_t wa = lr_s8(w0[k]), wb = lr_s8(w1[k]);
        a00 += (uint32_t)(wa * xa[0]);
        a01 += (uint32_t)(wa * xa[d]);
        a10 += (uint32_t)(wb * xa[0]);
        a11 += (uint32_t)(wb * xa[d]);
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

#if LR_DSP && defined(__GNUC__) && !defined(__OPTIMIZE_SIZE__)
#define LR_PW_ASM 1
/* The sums of n contiguous pixels (n even, >= 2) from xa for the channel pair of pw_dot (cin a multiple of 4, the
 * widened weights at wp), each pixel pair's loop as pw_dot's, the pairs' loop in assembly too (pw_dot's call and
 * set-up per pair cost ~45 instructions beside its 56 for eight input channels): channel o's sums into out[0 ..
 * n - 1], o1's into out[LR_PW_RUN ..]. */
static LR_NOINLINE void pw_run(const int8_t *xa, int32_t hw, const int32_t *wp, int32_t cin, const uint32_t st[2],
                               int32_t n, int32_t *out)
{
    const int32_t *const w4 = wp + 4 * (cin >> 2);
    const int32_t *const oend = out + n;
    const uint32_t s0 = st[0], s1 = st[1];
    uint32_t a00, a01, a10, a11;
    const int32_t *w;
    const int8_t *x;
    int32_t t0, t1, t2, t3;
    __asm__ volatile("2:\n\t"
                     "ldr %[xa], %[xq]\n\t"
                     "ldr %[wp], %[wbase]\n\t"
                     "ldr %[a00], %[s0]\n\t"
                     "mov %[a01], %[a00]\n\t"
                     "ldr %[a10], %[s1]\n\t"
                     "mov %[a11], %[a10]\n"
                     "1:\n\t"
                     LR_PW_STEP("#1") LR_PW_STEP("#1")
                     "cmp %[wp], %[w4]\n\t"
                     "bne 1b\n\t"
                     "strd %[a10], %[a11], [%[out], #%c[o1]]\n\t"
                     "strd %[a00], %[a01], [%[out]], #8\n\t"
                     "ldr %[t0], %[xq]\n\t"
                     "adds %[t0], %[t0], #2\n\t"
                     "str %[t0], %[xq]\n\t"
                     "ldr %[t0], %[oend]\n\t"
                     "cmp %[out], %[t0]\n\t"
                     "bne 2b"
                     : [a00] "=&r"(a00), [a01] "=&r"(a01), [a10] "=&r"(a10), [a11] "=&r"(a11), [xa] "=&r"(x),
                       [wp] "=&r"(w), [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), [t3] "=&r"(t3), [out] "+r"(out),
                       [xq] "+m"(xa)
                     : [hw] "r"(hw), [w4] "r"(w4), [wbase] "m"(wp), [s0] "m"(s0), [s1] "m"(s1), [oend] "m"(oend),
                       [o1] "i"(4 * LR_PW_RUN)
                     : "cc", "memory");
}
#else
#define LR_PW_ASM 0
#endif

/* The starts bias + in_offset * sum(w) of channels o and o1 (modulo 2^32) into s; with the DSP extension their
 * weights widened into scratch, (w0[c], w0[c + 1]), (w1[c], w1[c + 1]) per pair of input channels. */
static void pw_prep(const lr_dense_s8_params *p, int32_t cin, uint32_t o, uint32_t o1, int32_t *scratch, uint32_t s[2])
{
    const int8_t *v0 = (const int8_t *)(const void *)(p->w + (size_t)o * (size_t)cin);
    const int8_t *v1 = (const int8_t *)(const void *)(p->w + (size_t)o1 * (size_t)cin);
    int32_t s0 = 0, s1 = 0, k = 0;
#if LR_DSP
    for (; k + 2 <= cin; k += 2) {
        const int32_t a = v0[k], b = v0[k + 1], c = v1[k], d = v1[k + 1];
        scratch[k] = lr_pk(a, b);
        scratch[k + 1] = lr_pk(c, d);
        s0 += a + b;
        s1 += c + d;
    }
#else
    (void)scratch;
#endif
    for (; k < cin; k++) {
        s0 += v0[k];
        s1 += v1[k];
    }
    s[0] = (uint32_t)s0 * (uint32_t)p->in_offset + (p->bias ? (uint32_t)lr_opt_lei32(p->bias + 4u * o) : 0u);
    s[1] = (uint32_t)s1 * (uint32_t)p->in_offset + (p->bias ? (uint32_t)lr_opt_lei32(p->bias + 4u * o1) : 0u);
}

/* lr_opt_requant for r->sh >= 0 with the constants in locals (no reload after each output's store). */
static inline int32_t pw_rq(int32_t acc, uint64_t k, int32_t m, int32_t sh, uint32_t zc, int32_t lo, int32_t hi)
{
    int32_t v = lr_opt_mbqm_k(acc, m, k, (uint32_t)sh, zc);
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

/* Channels o, o1 (y1 NULL: o alone) of a stride-1 1 x 1 conv, its pixels contiguous: runs of LR_PW_RUN pixels summed
 * (pw_run, pw_dot; st, wp: pw_prep's), then each channel requantised over the run. Out of line: its sums take stack
 * only while it runs. */
static LR_NOINLINE void pw_runs(const int8_t *x, int32_t npx, int32_t hw, const int32_t *wp, const unsigned char *w0,
                                const unsigned char *w1, int32_t cin, const uint32_t st[2], const lr_opt_rq *r0,
                                const lr_opt_rq *r1, int8_t *y0, int8_t *y1)
{
    int32_t acc[2 * LR_PW_RUN], q;
    for (q = 0; q < npx; q += LR_PW_RUN) {
        const int32_t n = npx - q < LR_PW_RUN ? npx - q : LR_PW_RUN;
        int32_t j = 0;
#if LR_PW_ASM
        if ((cin & 3) == 0 && n >= 2) {
            j = n & ~1;
            pw_run(x + q, hw, wp, cin, st, j, acc);
        }
#endif
        for (; j < n; j += 2) { /* n odd: the last pixel twice (d = 0) */
            uint32_t a[4];
            a[0] = a[1] = st[0];
            a[2] = a[3] = st[1];
            pw_dot(x + q + j, j + 1 < n ? 1 : 0, hw, wp, w0, w1, cin, a);
            acc[j] = lr_as_i32(a[0]);
            acc[j + 1] = lr_as_i32(a[1]);
            acc[LR_PW_RUN + j] = lr_as_i32(a[2]);
            acc[LR_PW_RUN + j + 1] = lr_as_i32(a[3]);
        }
        lr_opt_requant_run(acc, n, r0, y0 + q);
        if (y1 != NULL) {
            lr_opt_requant_run(acc + LR_PW_RUN, n, r1, y1 + q);
        }
    }
}

/* asm_ok: pairs_asm_ok of the op (0 without LR_DOT_ASM). */
static int pointwise(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int32_t *scratch, int asm_ok,
                     int8_t *y)
{
    const int32_t cin = g->c, npx = g->oh * g->ow, hw = g->h * g->w, rs = g->sh * g->w, sw = g->sw, ow = g->ow;
    const int32_t lo = p->rq.act_min, hi = p->rq.act_max;
    int32_t o, q;
    if (g->kh != 1 || g->kw != 1 || g->groups != 1 || (g->pt | g->pl | g->pb | g->pr) != 0) {
        return 0;
    }
#if LR_DOT_ASM
    /* the columns with dot's assembly are faster from 32 input channels, with the pairs' assembly (pairs_sat /
     * pairs_clamp; col_pw2 at stride 1) from 8 where 8 or more output channels share each pixel pair's gather:
     * MLPerf VWW's 8 -> 16 and 16 -> 32 convs 1,289,355 and 777,131 instructions that way, 1,313,057 and 919,545
     * here; the ResNet's 16-channel stride-2 shortcut 292,213, here 398,927; a U-Net's 8 -> 3 head slower there */
    if (cin >= 32 || (cin >= 8 && g->oc >= 8 && asm_ok)) {
        return 0;
    }
#else
    (void)asm_ok;
#endif
    for (o = 0; o < g->oc; o += 2) {
        const uint32_t o1 = o + 1 < g->oc ? (uint32_t)o + 1u : (uint32_t)o; /* odd Cout: channel o twice */
        const unsigned char *w0 = p->w + (size_t)o * (size_t)cin, *w1 = p->w + (size_t)o1 * (size_t)cin;
        uint32_t st[2];
        int8_t *y0 = y + (size_t)o * (size_t)npx, *y1 = y + (size_t)o1 * (size_t)npx;
        const int8_t *xr = x; /* row of pixel q's input */
        int32_t ox = 0;
        lr_opt_rq r0, r1;
        uint64_t k0, k1;
        int32_t m0, m1, e0, e1;
        uint32_t z0, z1;
        int fast;
        lr_opt_rq_init(&r0, &p->rq, (uint32_t)o);
        lr_opt_rq_init(&r1, &p->rq, o1);
        k0 = r0.kpos, k1 = r1.kpos, m0 = r0.mult, m1 = r1.mult, e0 = r0.sh, e1 = r1.sh, z0 = r0.zc, z1 = r1.zc;
        fast = e0 >= 0 && e1 >= 0;
        pw_prep(p, cin, (uint32_t)o, o1, scratch, st);
        if (g->sh == 1 && g->sw == 1) { /* pixels contiguous: runs of sums, then each channel's requantisation */
            pw_runs(x, npx, hw, scratch, w0, w1, cin, st, &r0, &r1, y0, o1 != (uint32_t)o ? y1 : NULL);
            continue;
        }
        for (q = 0; q < npx; q += 2) {
            const int8_t *xa = xr + ox * sw;
            const int two = q + 1 < npx; /* npx odd: the last pixel twice (d = 0) */
            int32_t d = 0;
            uint32_t acc[4];
            if (++ox == ow) {
                ox = 0;
                xr += rs;
            }
            if (two) {
                d = (int32_t)(xr + ox * sw - xa);
                if (++ox == ow) {
                    ox = 0;
                    xr += rs;
                }
            }
            acc[0] = acc[1] = st[0];
            acc[2] = acc[3] = st[1];
            pw_dot(xa, d, hw, scratch, w0, w1, cin, acc);
            if (fast) {
                const int32_t v0 = pw_rq(lr_as_i32(acc[0]), k0, m0, e0, z0, lo, hi);
                const int32_t v1 = pw_rq(lr_as_i32(acc[1]), k0, m0, e0, z0, lo, hi);
                const int32_t v2 = pw_rq(lr_as_i32(acc[2]), k1, m1, e1, z1, lo, hi);
                const int32_t v3 = pw_rq(lr_as_i32(acc[3]), k1, m1, e1, z1, lo, hi);
                y0[q] = (int8_t)v0;
                y1[q] = (int8_t)v2;
                if (two) {
                    y0[q + 1] = (int8_t)v1;
                    y1[q + 1] = (int8_t)v3;
                }
            } else {
                y0[q] = lr_opt_requant(lr_as_i32(acc[0]), &r0);
                y1[q] = lr_opt_requant(lr_as_i32(acc[2]), &r1);
                if (two) {
                    y0[q + 1] = lr_opt_requant(lr_as_i32(acc[1]), &r0);
                    y1[q + 1] = lr_opt_requant(lr_as_i32(acc[3]), &r1);
                }
            }
        }
    }
    return 1;
}

#endif

/* Depthwise convs the one-channel kernel does not take: 3-wide kernels (kw = 3, dilation 1; stride 2 among them)
 * per channel through lr_opt_chan3 (the kernel packed into scratch: kh + 2 kh words), others through
 * lr_conv2d_channel_s8_opt (the kernel widened to int32 in scratch). */
static void depthwise(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int32_t *w, int8_t *y)
{
    const int32_t kk = g->kh * g->kw, hw = g->h * g->w, npx = g->oh * g->ow;
    const int three = g->kw == 3 && g->dw == 1 && g->dh == 1;
    int32_t o, k;
    for (o = 0; o < g->oc; o++) {
        const int32_t bias = p->bias ? lr_opt_lei32(p->bias + 4u * (uint32_t)o) : 0;
        const int8_t *xo = x + (size_t)o * (size_t)hw;
        int8_t *yo = y + (size_t)o * (size_t)npx;
        if (three) { /* rows (kh words), then the packed kernel */
            int16_t *pk = (int16_t *)(void *)(w + g->kh);
            lr_opt_pack3_s8(p->w + (size_t)o * (size_t)kk, g->kh, pk, w);
            lr_opt_chan3(g, xo, pk, w, bias, p->in_offset, &p->rq, (uint32_t)o, yo);
            continue;
        }
        for (k = 0; k < kk; k++) {
            w[k] = lr_s8(p->w[(size_t)o * (size_t)kk + (size_t)k]);
        }
        lr_conv2d_channel_s8_opt(g, xo, w, bias, p->in_offset, lr_rq_mult(&p->rq, (uint32_t)o),
                                 lr_rq_shift(&p->rq, (uint32_t)o), &p->rq, yo);
    }
}

#if !LR_OPT_FAST
/* Channel o's two accumulators requantised into y[0] and, if n == 2, y[1] (pairs in the smallest builds): out of
 * line on DSP cores, so that the channel loop keeps its registers (it spilled around the inlined requantisation);
 * inlined on the others, whose portable dot-product loop leaves room for it (out of line cost the Cortex-M3 4 % on
 * keyword spotting). */
#if LR_DSP
#define LR_OUT_CHAN LR_NOINLINE
#else
#define LR_OUT_CHAN LR_ALWAYS_INLINE
#endif
static LR_OUT_CHAN void out_chan(const lr_requant_s8 *q, uint32_t o, int32_t a0, int32_t a1, int8_t *y, int32_t n)
{
    lr_opt_out2(a0, a1, lr_rq_mult(q, o), lr_rq_shift(q, o), q, y, n);
}
#undef LR_OUT_CHAN
#endif

/* Output channels o0 .. oend - 1 of pixels q, q + 1 (nq of them) from the columns at col, two at a time (the last
 * alone if their number is odd). */
static LR_NOINLINE void pairs(const lr_dense_s8_params *p, int32_t per, const int32_t *col, int32_t o0, int32_t oend,
                              int8_t *yp, int32_t npx, int32_t nq)
{
    int32_t o;
#if !LR_OPT_FAST
    int32_t k;
#endif
    for (o = o0; o < oend; o += 2, yp += 2 * npx) {
        const unsigned char *w0 = p->w + (size_t)o * (size_t)per;
        const int two = o + 1 < oend;
        const uint32_t o1 = (uint32_t)o + (two ? 1u : 0u);
        int32_t acc[4];
        acc[0] = p->bias ? lr_opt_lei32(p->bias + 4u * (uint32_t)o) : 0;
        acc[1] = acc[0];
        acc[2] = p->bias ? lr_opt_lei32(p->bias + 4u * o1) : 0;
        acc[3] = acc[2];
        dot(w0, two ? w0 + per : w0, per, col, acc);
#if LR_OPT_FAST /* lr_opt_out2 always inlined: each call with its own registers */
        lr_opt_out2(acc[0], acc[1], lr_rq_mult(&p->rq, (uint32_t)o), lr_rq_shift(&p->rq, (uint32_t)o), &p->rq, yp, nq);
        if (two) {
            lr_opt_out2(acc[2], acc[3], lr_rq_mult(&p->rq, o1), lr_rq_shift(&p->rq, o1), &p->rq, yp + npx, nq);
        }
#else /* one call site */
        for (k = 0; k <= two; k++) {
            out_chan(&p->rq, (uint32_t)o + (uint32_t)k, acc[2 * k], acc[2 * k + 1], yp + k * npx, nq);
        }
#endif
    }
}

#if LR_DOT_ASM
/* Both pixels' columns of an interior pixel pair of a three-input-channel 3 x 3 kernel (dilation 1: an RGB stem),
 * pixel 0's taps from a (its top-left input), pixel 1's from a + dx, in one call at constant positions
 * (lr_opt_col_pos: the first 24 taps in whole groups of four, the last three as (pixel 0, pixel 1) pairs). Two
 * lr_opt_im2col calls (the generic prologue and position arithmetic, twice) took about 425 instructions per pair. */
#define LR_Q(k, j) ((k) < 24 ? LR_P(k) + 2 * (j) : 2 * (k) + (j))
#define LR_G2ROW(k, r) \
    col[LR_Q(k, 0)] = (int16_t)((r)[0] + off); \
    col[LR_Q((k) + 1, 0)] = (int16_t)((r)[1] + off); \
    col[LR_Q((k) + 2, 0)] = (int16_t)((r)[2] + off); \
    col[LR_Q(k, 1)] = (int16_t)((r)[dx] + off); \
    col[LR_Q((k) + 1, 1)] = (int16_t)((r)[dx + 1] + off); \
    col[LR_Q((k) + 2, 1)] = (int16_t)((r)[dx + 2] + off)
#define LR_G2CH(c) \
    do { \
        const int8_t *r = a + (c) * hw; \
        LR_G2ROW(9 * (c), r); \
        r += w; \
        LR_G2ROW(9 * (c) + 3, r); \
        r += w; \
        LR_G2ROW(9 * (c) + 6, r); \
    } while (0)
static void gather_rgb2(const int8_t *a, int32_t dx, int32_t hw, int32_t w, int32_t off, int16_t *col)
{
    LR_G2CH(0);
    LR_G2CH(1);
    LR_G2CH(2);
}
#undef LR_G2CH
#undef LR_G2ROW
#undef LR_Q

/* The columns of pixels q, q + 1 of the group's input channels at x under an RGB stem's kernel (cin_g 3, 3 x 3,
 * dilation 1): gather_rgb2 where both are interior pixels of one output row, else lr_opt_im2col2. */
static LR_OPT_INLINE void gather_rgb(const lr_geom *g, const int8_t *x, int32_t q, int32_t off, int16_t *col)
{
    const int32_t oy = q / g->ow, ox = q - oy * g->ow;
    const int32_t iy0 = oy * g->sh - g->pt, ix0 = ox * g->sw - g->pl;
    if (ox + 1 < g->ow && iy0 >= 0 && iy0 + 2 < g->h && ix0 >= 0 && ix0 + g->sw + 2 < g->w) {
        gather_rgb2(x + iy0 * g->w + ix0, g->sw, g->h * g->w, g->w, off, col);
    } else {
        lr_opt_im2col2(g, x, q, off, col);
    }
}

/* lr_conv2d_s8_opt_n's loop for an RGB stem (cin_g 3, 3 x 3, dilation 1; pairs_asm_ok, two or more output
 * channels per group), the columns by gather_rgb: its own loop, so that other convs pay no test per pixel pair. ctx
 * and run as lr_conv2d_s8_opt_n sets them. */
static void rgb_loop(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int32_t *scratch,
                     lr_pairs_ctx *ctx, void (*run)(lr_pairs_ctx *), int8_t *y)
{
    const int32_t per = 27, npx = g->oh * g->ow, np = g->cout_g / 2;
    int32_t grp, q;
    for (grp = 0; grp < g->groups; grp++) {
        const int8_t *xg = x + (size_t)(grp * 3) * (size_t)(g->h * g->w);
        const int32_t o0 = grp * g->cout_g, oend = o0 + g->cout_g;
        for (q = 0; q < npx; q += 2) {
            int8_t *yp = y + (size_t)o0 * (size_t)npx + (size_t)q;
            if (q + 1 == npx) { /* the last pixel alone */
                lr_opt_im2col2(g, xg, q, p->in_offset, (int16_t *)(void *)scratch);
                pairs(p, per, scratch, o0, oend, yp, npx, 1);
                continue;
            }
            gather_rgb(g, xg, q, p->in_offset, (int16_t *)(void *)scratch);
            ctx->w = p->w + (size_t)o0 * (size_t)per;
            ctx->bias = p->bias + 4u * (uint32_t)o0;
            ctx->mult = p->rq.mult + 4u * (uint32_t)o0;
            ctx->shift = p->rq.shift + (uint32_t)o0;
            ctx->y = yp;
            ctx->n = np;
            run(ctx);
            if (o0 + 2 * np < oend) {
                pairs(p, per, scratch, o0 + 2 * np, oend, yp + (size_t)(2 * np) * (size_t)npx, npx, 2);
            }
        }
    }
}
#endif

#if LR_OPT_FAST
uint64_t lr_opt_plane3_words(const lr_geom *g)
{
    if (g->cin_g == 1 && g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1 &&
        ((g->sh == 1 && g->sw == 1) || (g->sh == 2 && g->sw == 2 && g->cout_g == 1))) {
        lr_geom gp;
        lr_opt_plane_geom(g, &gp);
        return ((uint64_t)gp.h * (uint64_t)gp.w + 6u) / 4u; /* and 3 spare bytes (lr_opt_plane3x3) */
    }
    return 0u;
}
#endif

uint64_t lr_conv2d_s8_opt_plane_words(const lr_geom *g)
{
#if LR_OPT_WIDE
    if (g->kw != 3) {
        return lr_opt_plane_wide_words(g);
    }
#endif
#if LR_OPT_FAST
    return lr_opt_plane3_words(g);
#else
    (void)g;
    return 0u;
#endif
}

void lr_conv2d_s8_opt(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int32_t *scratch, int8_t *y)
{
    lr_conv2d_s8_opt_n(g, x, p, scratch, 0u, y);
}

#if LR_OPT_WIDE
/* lr_conv2d_s8_opt_n but for the kh x 5 and kh x 7 planes (out of line: its frame and registers as before them). */
static LR_NOINLINE void conv_n(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int32_t *scratch,
                               uint32_t words, int8_t *y)
#else
void lr_conv2d_s8_opt_n(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int32_t *scratch,
                        uint32_t words, int8_t *y)
#endif
{
    const int32_t per = g->cin_g * g->kh * g->kw, npx = g->oh * g->ow;
    int32_t grp, q;
#if LR_OPT_FAST
    int asm_ok = 0;
#endif
#if LR_DOT_ASM
    lr_pairs_ctx ctx;
    void (*run)(lr_pairs_ctx *);
    int pw1;
#endif
#if LR_OPT_FAST
    if (one_channel(g, x, p, scratch, words, y)) {
        return;
    }
#else
    (void)words;
#endif
    if (g->cin_g == 1 && g->cout_g == 1) {
        depthwise(g, x, p, scratch, y);
        return;
    }
#if LR_DOT_ASM
    asm_ok = pairs_asm_ok(g, p, per); /* once per op: pointwise's choice too */
#endif
#if LR_OPT_FAST
    if (pointwise(g, x, p, scratch, asm_ok, y)) {
        return;
    }
#endif
#if LR_DOT_ASM
    pw1 = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && (g->pt | g->pl | g->pb | g->pr) == 0;
    ctx.col = scratch;
    ctx.cend = scratch + (per & ~3);
    ctx.d = per - 4;
    ctx.odd4 = per & 4;
    ctx.npx = npx;
    ctx.zp = p->rq.zp_out;
    ctx.lo = p->rq.act_min;
    ctx.hi = p->rq.act_max;
    run = (per & 3) != 0 ? pairs_tail : ctx.lo == -128 && ctx.hi == 127 ? pairs_sat : pairs_clamp;
    if (g->cin_g == 3 && g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1 && asm_ok && g->cout_g >= 2) { /* RGB */
        rgb_loop(g, x, p, scratch, &ctx, run, y);
        return;
    }
#endif
    for (grp = 0; grp < g->groups; grp++) {
        const int8_t *xg = x + (size_t)(grp * g->cin_g) * (size_t)(g->h * g->w);
        const int32_t o0 = grp * g->cout_g, oend = o0 + g->cout_g;
        for (q = 0; q < npx; q += 2) {
            const int32_t nq = q + 1 < npx ? 2 : 1;
            int8_t *yp = y + (size_t)o0 * (size_t)npx + (size_t)q;
#if LR_DOT_ASM
            if (nq == 2 && pw1) {
                col_pw2(xg + q, g->h * g->w, g->cin_g, p->in_offset, scratch);
            } else {
                lr_opt_im2col2(g, xg, q, p->in_offset, (int16_t *)(void *)scratch);
            }
            if (asm_ok && nq == 2 && g->cout_g >= 2) { /* the channel pairs in assembly, an odd last one in C */
                const int32_t np = g->cout_g / 2;
                ctx.w = p->w + (size_t)o0 * (size_t)per;
                ctx.bias = p->bias + 4u * (uint32_t)o0;
                ctx.mult = p->rq.mult + 4u * (uint32_t)o0;
                ctx.shift = p->rq.shift + (uint32_t)o0;
                ctx.y = yp;
                ctx.n = np;
                run(&ctx);
                if (o0 + 2 * np < oend) {
                    pairs(p, per, scratch, o0 + 2 * np, oend, yp + (size_t)(2 * np) * (size_t)npx, npx, nq);
                }
                continue;
            }
#else
            lr_opt_im2col2(g, xg, q, p->in_offset, (int16_t *)(void *)scratch);
#endif
            pairs(p, per, scratch, o0, oend, yp, npx, nq);
        }
    }
}

#if LR_OPT_WIDE
/* kh x 5 and kh x 7 kernels: the padded plane's kernel if it applies and the scratch holds the plane, else conv_n. */
static LR_NOINLINE void wide_or_cols(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int32_t *scratch,
                                     uint32_t words, int8_t *y)
{
    if (!lr_opt_conv_plane_wide(g, x, p, scratch, words, y)) {
        conv_n(g, x, p, scratch, words, y);
    }
}

void lr_conv2d_s8_opt_n(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int32_t *scratch,
                        uint32_t words, int8_t *y)
{
    if (g->kw == 5 || g->kw == 7) { /* tail calls: a few instructions per conv */
        wide_or_cols(g, x, p, scratch, words, y);
        return;
    }
    conv_n(g, x, p, scratch, words, y);
}
#endif
