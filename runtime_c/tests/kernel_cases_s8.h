/*
 * kernel_cases_s8.h -- optimised int8 kernels against their references on random shapes (header-only,
 * no malloc: the host test test_kernels_s8.c and the Cortex-M firmware mcu/kernels_check_workload.c
 * both run it). Every case draws a geometry (1 x 1 to 4 x 4 kernels, strides 1-3, dilation 1-2,
 * padding 0-2 per side, odd sizes, dense / grouped / depthwise), int8 inputs, weights, int32 bias,
 * per-channel or per-tensor requantisation within the verifier's accumulator bound (half the conv cases
 * take the shapes of the conv's fast paths: one input channel 3 x 3, 1 x 1 with stride, 3 x 3 over 4-8
 * channels with borders, 1 x 1 with odd channel counts, sizes and strides 1-3; kc_geom_fast), and runs:
 *   CONV2D:         lr_conv2d_s8_opt == lr_conv2d_s8_ref
 *   LINEAR:         lr_linear_s8_opt == lr_linear_s8_ref
 *   LINREP_CONV2D:  lr_linrep_conv2d_direct_s8_ref (oracle) == direct_opt == reuse_ref == reuse_opt,
 *                   with K = 1..24 templates (some all zero), and a random kernel mask in half the cases.
 *   CONV_TRANSPOSE2D (kc_run_small): dense and LinRep, optimised == reference; so is bilinear RESIZE.
 * Outputs and scratch are filled with junk first; canary words after each kernel's scratch (exactly
 * its documented size) must survive. kc_run returns the number of mismatches (0: all equal).
 */
#ifndef LR_KERNEL_CASES_S8_H
#define LR_KERNEL_CASES_S8_H

#include "kernels/lr_opt_s8.h" /* lr_kernels.h and the requantisation helper lr_opt_requant */

#define KC_MAX_X 1200
#define KC_MAX_W 1200
#define KC_MAX_Y 2400
#define KC_MAX_OC 16
#define KC_SCRATCH 4096
#define KC_CANARY 0x5a5a5a5a

typedef struct kc_rng {
    uint32_t s;
} kc_rng;

static uint32_t kc_next(kc_rng *r)
{
    uint32_t x = r->s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    r->s = x;
    return x;
}

/* Uniform in [lo, hi]. */
static int32_t kc_int(kc_rng *r, int32_t lo, int32_t hi)
{
    return lo + (int32_t)(kc_next(r) % (uint32_t)(hi - lo + 1));
}

static int8_t kc_x[KC_MAX_X];
static unsigned char kc_w[KC_MAX_W];
static unsigned char kc_bias[4 * KC_MAX_OC], kc_mult[4 * KC_MAX_OC], kc_shift[KC_MAX_OC], kc_bexp[KC_MAX_OC];
static unsigned char kc_tmpl[24 * 7 * LR_PLANE_WIDE_KH];
/* One LinRep "blob": packed indices, then packed a/b pairs, then the kernel mask. */
static unsigned char kc_lr[KC_MAX_W + 2 * KC_MAX_W + KC_MAX_W / 8 + 1];
#define kc_idx (kc_lr)
#define kc_abq (kc_lr + KC_MAX_W)
#define kc_mask (kc_lr + 3 * KC_MAX_W)
static int8_t kc_y0[KC_MAX_Y], kc_y1[KC_MAX_Y];
static int32_t kc_scratch[KC_SCRATCH + 4];

static void kc_put32(unsigned char *p, int32_t v)
{
    const uint32_t u = (uint32_t)v;
    p[0] = (unsigned char)u;
    p[1] = (unsigned char)(u >> 8);
    p[2] = (unsigned char)(u >> 16);
    p[3] = (unsigned char)(u >> 24);
}

/* Write value v (width bits) as element n of a little-endian bit stream (the blob's packing). */
static void kc_pack(unsigned char *bytes, uint32_t n, uint32_t width, uint32_t v)
{
    uint32_t b;
    for (b = 0u; b < width; b++) {
        const uint32_t bit = n * width + b;
        if ((v >> b) & 1u) {
            bytes[bit >> 3] = (unsigned char)(bytes[bit >> 3] | (1u << (bit & 7u)));
        } else {
            bytes[bit >> 3] = (unsigned char)(bytes[bit >> 3] & ~(1u << (bit & 7u)));
        }
    }
}

/* Junk in y and scratch; canaries after `words` scratch words. */
static void kc_prepare(uint32_t words, int8_t *y, uint32_t ny)
{
    uint32_t k;
    for (k = 0u; k < words; k++) {
        kc_scratch[k] = (int32_t)0xa5a5a5a5u;
    }
    for (k = words; k < words + 4u; k++) {
        kc_scratch[k] = KC_CANARY;
    }
    memset(y, 0x77, ny);
}

static int kc_canaries_ok(uint32_t words)
{
    uint32_t k;
    for (k = words; k < words + 4u; k++) {
        if (kc_scratch[k] != KC_CANARY) {
            return 0;
        }
    }
    return 1;
}

/* A random conv geometry with c * h * w <= KC_MAX_X, oc <= KC_MAX_OC, output <= KC_MAX_Y. */
static void kc_geom(kc_rng *r, lr_geom *g, int depthwise)
{
    for (;;) {
        int32_t span;
        g->groups = 1;
        g->c = kc_int(r, 1, 8);
        if (depthwise) {
            g->groups = g->c;
        } else if (g->c % 2 == 0 && kc_int(r, 0, 3) == 0) {
            g->groups = 2;
        }
        g->cin_g = g->c / g->groups;
        g->cout_g = depthwise ? kc_int(r, 1, 2) : kc_int(r, 1, 6);
        g->oc = g->groups * g->cout_g;
        g->h = kc_int(r, 1, 12);
        g->w = kc_int(r, 1, 12);
        g->kh = kc_int(r, 1, 4);
        g->kw = kc_int(r, 1, 4);
        g->sh = kc_int(r, 1, 3);
        g->sw = kc_int(r, 1, 3);
        g->dh = kc_int(r, 0, 3) == 0 ? 2 : 1;
        g->dw = kc_int(r, 0, 3) == 0 ? 2 : 1;
        g->pt = kc_int(r, 0, 2);
        g->pb = kc_int(r, 0, 2);
        g->pl = kc_int(r, 0, 2);
        g->pr = kc_int(r, 0, 2);
        if (kc_int(r, 0, 3) == 0) {
            g->kh = 1;
            g->kw = 1;
        } else if (kc_int(r, 0, 2) == 0) { /* the common 3 x 3, stride 1 or 2, padding 1 (the fast paths) */
            g->kh = 3;
            g->kw = 3;
            g->sh = kc_int(r, 1, 2);
            g->sw = g->sh;
            g->dh = 1;
            g->dw = 1;
            g->pt = g->pb = g->pl = g->pr = 1;
            if (!depthwise && kc_int(r, 0, 2) == 0) { /* an RGB stem: three input channels (gather_rgb) */
                g->groups = 1;
                g->c = g->cin_g = 3;
                g->cout_g = g->oc = kc_int(r, 2, 6);
            }
        }
        span = g->h + g->pt + g->pb - g->dh * (g->kh - 1) - 1;
        if (span < 0) {
            continue;
        }
        g->oh = span / g->sh + 1;
        span = g->w + g->pl + g->pr - g->dw * (g->kw - 1) - 1;
        if (span < 0) {
            continue;
        }
        g->ow = span / g->sw + 1;
        if (g->c * g->h * g->w <= KC_MAX_X && g->oc <= KC_MAX_OC && g->oc * g->oh * g->ow <= KC_MAX_Y &&
            g->oc * g->cin_g * g->kh * g->kw <= KC_MAX_W) {
            return;
        }
    }
}

/* The shapes the optimised conv has fast paths for, with random sizes: kind 0, one input channel, 3 x 3,
 * stride 1-2, padding 0-1 (the stem; depthwise too when groups = c, half the cases one output channel per group: the
 * padded plane at stride 2), a quarter of the cases on wide rows (24-40 output pixels: lr_opt_plane3x3's pieces), a
 * third kh x 5 or kh x 7 instead (5 x 5 and 7 x 7 mostly; kh 1-7, padding 0-2 per side: lr_opt_plane_wide); kind 1,
 * 1 x 1 stride 1-2 over 4-8 input channels; kind 2, 3 x 3 stride 1-2, padding 1, 4-8 input channels (four-channel gathers, borders); kind 3,
 * 1 x 1 stride 1-3, no padding, 1-11 input channels (a quarter of the cases 32-47: the columns' path that DSP
 * builds take from 32) and 1-7 output channels (odd counts and sizes favoured: the column-free 1 x 1 path's
 * channel and pixel tails). */
static void kc_geom_fast(kc_rng *r, lr_geom *g, int kind)
{
    for (;;) {
        int32_t span;
        g->c = kind == 0   ? kc_int(r, 1, 3)
               : kind == 3 ? (kc_int(r, 0, 3) == 0 ? kc_int(r, 32, 47) : 2 * kc_int(r, 0, 5) + (kc_int(r, 0, 3) != 0))
                           : kc_int(r, 4, 8);
        g->c = g->c == 0 ? 1 : g->c;
        g->groups = kind == 0 ? g->c : 1;
        g->cin_g = g->c / g->groups;
        g->cout_g = kind == 3                      ? 2 * kc_int(r, 0, 3) + 1
                    : kind == 0 && kc_int(r, 0, 1) ? 1 /* depthwise: the padded plane at stride 2 too */
                                                   : kc_int(r, 1, kind == 0 ? 5 : 6);
        g->oc = g->groups * g->cout_g;
        g->sh = kc_int(r, 1, kind == 3 ? 3 : 2);
        g->h = kind == 3 ? 2 * kc_int(r, 0, 6) + 1 : kc_int(r, 1, 12);
        g->w = kind == 3                          ? 2 * kc_int(r, 0, 6) + 1
               : kind == 0 && kc_int(r, 0, 3) == 0 ? kc_int(r, 24, 40) * g->sh /* wide rows */
                                                   : kc_int(r, 1, 12);
        g->kh = g->kw = kind == 1 || kind == 3 ? 1 : 3;
        g->sw = kind == 3 ? kc_int(r, 1, 3) : g->sh;
        g->dh = g->dw = 1;
        g->pt = g->pb = g->pl = g->pr = kind == 1 || kind == 3 ? 0 : kind == 2 ? 1 : kc_int(r, 0, 1);
        if (kind == 0 && kc_int(r, 0, 2) == 0) { /* 5- or 7-wide (lr_opt_plane_wide), square mostly, padding 0-2 */
            g->kw = kc_int(r, 0, 1) ? 5 : 7;
            g->kh = kc_int(r, 0, 3) == 0 ? kc_int(r, 1, LR_PLANE_WIDE_KH) : g->kw;
            g->pt = kc_int(r, 0, 2);
            g->pb = kc_int(r, 0, 2);
            g->pl = kc_int(r, 0, 2);
            g->pr = kc_int(r, 0, 2);
        }
        span = g->h + g->pt + g->pb - (g->kh - 1) - 1;
        if (span < 0) {
            continue;
        }
        g->oh = span / g->sh + 1;
        span = g->w + g->pl + g->pr - (g->kw - 1) - 1;
        if (span < 0) {
            continue;
        }
        g->ow = span / g->sw + 1;
        if (g->c * g->h * g->w <= KC_MAX_X && g->oc <= KC_MAX_OC && g->oc * g->oh * g->ow <= KC_MAX_Y &&
            g->oc * g->cin_g * g->kh * g->kw <= KC_MAX_W) {
            return;
        }
    }
}

/* Requantisation (n = 1 or per channel) and input offset. Half the cases right shifts only (the fast paths' case
 * for every channel), half of those with dead channels (multiplier 0, any shift: a pruned TFLite model's). */
static void kc_requant(kc_rng *r, uint32_t oc, lr_requant_s8 *q, int32_t *in_offset)
{
    uint32_t o;
    const int right = kc_int(r, 0, 1), dead = right && kc_int(r, 0, 1);
    q->n = kc_int(r, 0, 1) ? oc : 1u;
    for (o = 0u; o < q->n; o++) {
        kc_put32(kc_mult + 4u * o, kc_int(r, 1 << 30, 0x7fffffff));
        kc_shift[o] = (unsigned char)(int8_t)(!right ? kc_int(r, -14, 1)
                                              : kc_int(r, 0, 7) == 0 ? kc_int(r, -31, -15) : kc_int(r, -14, -1));
        if (dead && kc_int(r, 0, 3) == 0) {
            kc_put32(kc_mult + 4u * o, 0);
            kc_shift[o] = (unsigned char)(int8_t)(kc_int(r, 0, 1) ? 0 : kc_int(r, -31, 1)); /* TFLite writes 0 */
        }
    }
    q->mult = kc_mult;
    q->shift = kc_shift;
    q->zp_out = kc_int(r, -128, 127);
    q->act_min = kc_int(r, -128, 0);
    q->act_max = kc_int(r, q->act_min, 127);
    if (kc_int(r, 0, 2) == 0) {
        q->act_min = -128;
        q->act_max = 127;
    }
    *in_offset = kc_int(r, -127, 128);
}

static void kc_fill_x(kc_rng *r, uint32_t n)
{
    uint32_t k;
    for (k = 0u; k < n; k++) {
        kc_x[k] = (int8_t)kc_int(r, -128, 127);
    }
}

static const unsigned char *kc_fill_bias(kc_rng *r, uint32_t oc)
{
    uint32_t o;
    for (o = 0u; o < oc; o++) {
        kc_put32(kc_bias + 4u * o, kc_int(r, -(1 << 16), 1 << 16));
    }
    return kc_int(r, 0, 4) == 0 ? NULL : kc_bias;
}

static int kc_case_conv(kc_rng *r)
{
    lr_geom g;
    lr_dense_s8_params p;
    uint32_t k, nw, ny, per, words;
    int bad;
    const int32_t fast = kc_int(r, -4, 3); /* half the cases: a fast-path shape (kc_geom_fast) */
    int depthwise = kc_int(r, 0, 3) == 0;
    if (fast >= 0) {
        kc_geom_fast(r, &g, (int)fast);
    } else {
        kc_geom(r, &g, depthwise);
    }
    per = (uint32_t)(g.cin_g * g.kh * g.kw);
    nw = (uint32_t)g.oc * per;
    ny = (uint32_t)(g.oc * g.oh * g.ow);
    for (k = 0u; k < nw; k++) {
        kc_w[k] = (unsigned char)(int8_t)kc_int(r, -128, 127);
    }
    kc_fill_x(r, (uint32_t)(g.c * g.h * g.w));
    p.w = kc_w;
    p.bias = kc_fill_bias(r, (uint32_t)g.oc);
    kc_requant(r, (uint32_t)g.oc, &p.rq, &p.in_offset);
    kc_prepare(per, kc_y0, ny);
    lr_conv2d_s8_ref(&g, kc_x, &p, kc_scratch, kc_y0);
    kc_prepare(per, kc_y1, ny);
    lr_conv2d_s8_opt(&g, kc_x, &p, kc_scratch, kc_y1);
    bad = memcmp(kc_y0, kc_y1, ny) != 0 || !kc_canaries_ok(per);
    /* with room for the padded plane (one input channel per group, 3 x 3, stride 1: lr_conv2d_s8_opt_plane_words;
     * other shapes: as above), canaries after the words given */
    words = (uint32_t)lr_conv2d_s8_opt_plane_words(&g);
    words = words > per ? words : per;
    kc_prepare(words, kc_y1, ny);
    lr_conv2d_s8_opt_n(&g, kc_x, &p, kc_scratch, words, kc_y1);
    bad |= memcmp(kc_y0, kc_y1, ny) != 0 || !kc_canaries_ok(words);
    return bad;
}

static int kc_case_linear(kc_rng *r)
{
    lr_dense_s8_params p;
    const uint32_t in = (uint32_t)kc_int(r, 1, 70), out = (uint32_t)kc_int(r, 1, KC_MAX_OC);
    uint32_t k;
    for (k = 0u; k < in * out; k++) {
        kc_w[k] = (unsigned char)(int8_t)kc_int(r, -128, 127);
    }
    kc_fill_x(r, in);
    p.w = kc_w;
    p.bias = kc_fill_bias(r, out);
    kc_requant(r, out, &p.rq, &p.in_offset);
    memset(kc_y0, 0x77, out);
    memset(kc_y1, 0x11, out);
    lr_linear_s8_ref(kc_x, in, out, &p, kc_y0);
    lr_linear_s8_opt(kc_x, in, out, &p, kc_y1);
    return memcmp(kc_y0, kc_y1, out) != 0;
}

/* LinRep weights for the oc * cin_g kernels of geometry g (K = 1..24 templates, some all zero; a kernel mask in half
 * the cases; a quarter with large a/b and templates, some W beyond int16, within the verifier's bound), then the
 * bias, the input (c * h * w values) and the requantisation; returns K. Kernel n's output channel: n / cin_g for a
 * conv, n % cout_g + cout_g * (n / (cin_g * cout_g)) for a transposed conv, the same bound either way. */
static uint32_t kc_linrep_draw(kc_rng *r, const lr_geom *gp, lr_linrep_s8_params *pp)
{
    const lr_geom g = *gp;
    lr_linrep_s8_params p;
    const uint32_t k_t = (uint32_t)kc_int(r, 1, 24);
    uint32_t bits = 1u, ab_bits = (uint32_t)kc_int(r, 2, 6), n, kept = 0u, kk, j;
    const int masked = kc_int(r, 0, 1);
    const int wide = kc_int(r, 0, 3) == 0; /* large a/b and templates: some W exceed int16 */
    int huge;
    int32_t tlim = 32;
    kk = (uint32_t)(g.kh * g.kw);
    /* one tap per kernel: W up to 2^23 within the verifier's bound (exponent -9, a = -128 often) */
    huge = wide && g.cin_g * (int32_t)kk == 1 && kc_int(r, 0, 1);
    if (wide) { /* |W| <= 2^(ab_bits - 1) * (4 * 128 + 4), and 255 * cin_g * kk * |W| < 2^30 (the verifier's bound) */
        tlim = 127;
        ab_bits = 8u; /* kc_lr holds 2 x KC_MAX_W a/b of at most 8 bits */
        while (ab_bits > 2u && 255.0 * (double)(g.cin_g * (int32_t)kk) * (double)(1u << (ab_bits - 1u)) * 520.0 +
                   (double)(1 << 20) >= 1073741824.0) {
            ab_bits--;
        }
    }
    while ((1u << bits) < k_t) {
        bits++;
    }
    for (j = 0u; j < k_t * kk; j++) {
        kc_tmpl[j] = (unsigned char)(int8_t)kc_int(r, -tlim, tlim);
    }
    if (k_t > 1u && kc_int(r, 0, 1)) { /* an all-zero template */
        memset(kc_tmpl + kk * (uint32_t)kc_int(r, 0, (int32_t)k_t - 1), 0, kk);
    }
    memset(kc_lr, 0, sizeof kc_lr);
    for (n = 0u; n < (uint32_t)(g.oc * g.cin_g); n++) {
        const int keep = !masked || kc_int(r, 0, 9) < 7;
        if (keep) {
            const int32_t lim = (1 << (ab_bits - 1u)) - 1;
            kc_mask[n >> 3] = (unsigned char)(kc_mask[n >> 3] | (1u << (n & 7u)));
            /* few templates per input channel: reuse has something to share */
            kc_pack(kc_idx, kept, bits, (uint32_t)kc_int(r, 0, (int32_t)(k_t < 4u ? k_t : 4u) - 1) * (k_t / 4u + 1u) % k_t);
            kc_pack(kc_abq, 2u * kept, ab_bits,
                    (uint32_t)(huge && kc_int(r, 0, 1) ? -lim - 1 : kc_int(r, -lim - 1, lim)) & ((1u << ab_bits) - 1u));
            kc_pack(kc_abq, 2u * kept + 1u, ab_bits, (uint32_t)kc_int(r, -lim - 1, lim) & ((1u << ab_bits) - 1u));
            kept++;
        }
    }
    for (n = 0u; n < (uint32_t)g.oc; n++) {
        kc_bexp[n] = (unsigned char)(int8_t)(huge ? -9 : kc_int(r, -2, 2));
    }
    memset(&p, 0, sizeof p);
    p.blob = kc_lr;
    p.lr.bits = bits;
    p.lr.ab_bits = ab_bits;
    p.lr.idx = 0u;
    p.lr.abq = KC_MAX_W;
    p.lr.mask = masked ? 3u * KC_MAX_W : 0u;
    p.tmpl = kc_tmpl;
    p.k = k_t;
    p.bexp = kc_bexp;
    p.bias = kc_fill_bias(r, (uint32_t)g.oc);
    kc_fill_x(r, (uint32_t)(g.c * g.h * g.w));
    kc_requant(r, (uint32_t)g.oc, &p.rq, &p.in_offset);
    *pp = p;
    return k_t;
}

static int kc_case_linrep(kc_rng *r)
{
    lr_geom g;
    lr_linrep_s8_params p;
    uint32_t k_t, ny, j, words, bad = 0u;
    if (kc_int(r, 0, 7) == 0) { /* an eighth: one input channel 3 x 3 (the padded plane at strides 1 and 2) */
        kc_geom_fast(r, &g, 0);
    } else {
        kc_geom(r, &g, kc_int(r, 0, 5) == 0);
    }
    k_t = kc_linrep_draw(r, &g, &p);
    ny = (uint32_t)(g.oc * g.oh * g.ow);
    words = (uint32_t)(g.cin_g * g.kh * g.kw);
    kc_prepare(words, kc_y0, ny);
    lr_linrep_conv2d_direct_s8_ref(&g, kc_x, &p, kc_scratch, kc_y0);
    {
        /* the preferred scratch, the least, and a size in between (the caller's RAM limit) */
        const uint32_t per = words, pref = (uint32_t)lr_linrep_conv2d_direct_s8_scratch_pref(&g);
        const uint32_t least = (uint32_t)lr_linrep_conv2d_direct_s8_scratch_min(per);
        const uint32_t sizes[3] = {pref, least, (uint32_t)kc_int(r, (int32_t)least, (int32_t)pref)};
        for (j = 0u; j < 3u; j++) {
            kc_prepare(sizes[j], kc_y1, ny);
            lr_linrep_conv2d_direct_s8_opt(&g, kc_x, &p, kc_scratch, sizes[j], kc_y1);
            bad |= (uint32_t)(memcmp(kc_y0, kc_y1, ny) != 0 || !kc_canaries_ok(sizes[j]));
        }
    }
    words = (uint32_t)lr_linrep_conv2d_reuse_s8_ref_scratch(&g, k_t);
    if (words <= KC_SCRATCH) {
        kc_prepare(words, kc_y1, ny);
        lr_linrep_conv2d_reuse_s8_ref(&g, kc_x, &p, kc_scratch, kc_y1);
        bad |= (uint32_t)(memcmp(kc_y0, kc_y1, ny) != 0 || !kc_canaries_ok(words)) << 1;
    }
    words = (uint32_t)lr_linrep_conv2d_reuse_s8_opt_scratch(&g, k_t);
    if (words <= KC_SCRATCH) {
        kc_prepare(words, kc_y1, ny);
        lr_linrep_conv2d_reuse_s8_opt(&g, kc_x, &p, kc_scratch, kc_y1);
        bad |= (uint32_t)(memcmp(kc_y0, kc_y1, ny) != 0 || !kc_canaries_ok(words)) << 2;
    }
    return (int)bad;
}

/* Template reuse with the scratch size given (lr_linrep_conv2d_reuse_s8_opt_n, and _ref_n at its own minimum and a
 * random size up to its default): a random LinRep case (K = 1..24,
 * a kernel mask in half the cases, b exponents -3..3) run by the optimised kernel with exactly its documented
 * minimum (lr_linrep_conv2d_reuse_s8_opt_scratch_min: one output row per tile), a random size between that and
 * the whole output, and the default (lr_linrep_conv2d_reuse_s8_opt_scratch), each against
 * lr_linrep_conv2d_reuse_s8_ref; canaries after the words given; one word short of the minimum it must write
 * nothing. Returns the mismatches (0: all as expected). */
static int kc_case_reuse_sizes(kc_rng *r)
{
    lr_geom g;
    lr_linrep_s8_params p;
    const uint32_t k_t = (uint32_t)kc_int(r, 1, 24), ab_bits = (uint32_t)kc_int(r, 2, 6);
    const int masked = kc_int(r, 0, 1);
    uint32_t bits = 1u, n, kept = 0u, ny, kk, j, words, lo, full, sizes[3];
    int bad = 0, t;
    kc_geom(r, &g, 0);
    kk = (uint32_t)(g.kh * g.kw);
    ny = (uint32_t)(g.oc * g.oh * g.ow);
    while ((1u << bits) < k_t) {
        bits++;
    }
    for (j = 0u; j < k_t * kk; j++) {
        kc_tmpl[j] = (unsigned char)(int8_t)kc_int(r, -127, 127);
    }
    memset(kc_lr, 0, sizeof kc_lr);
    for (n = 0u; n < (uint32_t)(g.oc * g.cin_g); n++) {
        if (!masked || kc_int(r, 0, 9) < 7) {
            const int32_t lim = (1 << (ab_bits - 1u)) - 1;
            kc_mask[n >> 3] = (unsigned char)(kc_mask[n >> 3] | (1u << (n & 7u)));
            kc_pack(kc_idx, kept, bits, (uint32_t)kc_int(r, 0, (int32_t)k_t - 1));
            kc_pack(kc_abq, 2u * kept, ab_bits, (uint32_t)kc_int(r, -lim - 1, lim) & ((1u << ab_bits) - 1u));
            kc_pack(kc_abq, 2u * kept + 1u, ab_bits, (uint32_t)kc_int(r, -lim - 1, lim) & ((1u << ab_bits) - 1u));
            kept++;
        }
    }
    for (n = 0u; n < (uint32_t)g.oc; n++) {
        kc_bexp[n] = (unsigned char)(int8_t)kc_int(r, -3, 3);
    }
    memset(&p, 0, sizeof p);
    p.blob = kc_lr;
    p.lr.bits = bits;
    p.lr.ab_bits = ab_bits;
    p.lr.idx = 0u;
    p.lr.abq = KC_MAX_W;
    p.lr.mask = masked ? 3u * KC_MAX_W : 0u;
    p.tmpl = kc_tmpl;
    p.k = k_t;
    p.bexp = kc_bexp;
    p.bias = kc_fill_bias(r, (uint32_t)g.oc);
    kc_fill_x(r, (uint32_t)(g.c * g.h * g.w));
    kc_requant(r, (uint32_t)g.oc, &p.rq, &p.in_offset);
    words = (uint32_t)lr_linrep_conv2d_reuse_s8_ref_scratch(&g, k_t);
    lo = (uint32_t)lr_linrep_conv2d_reuse_s8_opt_scratch_min(&g, k_t);
    full = lo + (uint32_t)((g.oh - 1) * g.ow * (g.cout_g + 1 + (k_t < (uint32_t)g.cout_g ? (int32_t)k_t : g.cout_g)));
    if (words > KC_SCRATCH || full > KC_SCRATCH) {
        return 0;
    }
    kc_prepare(words, kc_y0, ny);
    lr_linrep_conv2d_reuse_s8_ref(&g, kc_x, &p, kc_scratch, kc_y0);
    sizes[0] = lo;
    sizes[1] = lo + (uint32_t)kc_int(r, 0, (int32_t)(full - lo));
    sizes[2] = (uint32_t)lr_linrep_conv2d_reuse_s8_opt_scratch(&g, k_t);
    for (t = 0; t < 3; t++) {
        kc_prepare(sizes[t], kc_y1, ny);
        lr_linrep_conv2d_reuse_s8_opt_n(&g, kc_x, &p, kc_scratch, sizes[t], kc_y1);
        bad += memcmp(kc_y0, kc_y1, ny) != 0 || !kc_canaries_ok(sizes[t]);
    }
    kc_prepare(lo - 1u, kc_y1, ny); /* one word short of the minimum: nothing written */
    lr_linrep_conv2d_reuse_s8_opt_n(&g, kc_x, &p, kc_scratch, lo - 1u, kc_y1);
    for (n = 0u; n < ny; n++) {
        bad += kc_y1[n] != 0x77;
    }
    bad += !kc_canaries_ok(lo - 1u);
    /* the reference kernel the same way: its minimum (one output row per tile), a size between that and its
     * default, and one word short of the minimum (nothing written) */
    lo = (uint32_t)lr_linrep_conv2d_reuse_s8_ref_scratch_min(&g, k_t);
    sizes[0] = lo;
    sizes[1] = lo + (uint32_t)kc_int(r, 0, (int32_t)(words - lo));
    for (t = 0; t < 2; t++) {
        kc_prepare(sizes[t], kc_y1, ny);
        lr_linrep_conv2d_reuse_s8_ref_n(&g, kc_x, &p, kc_scratch, sizes[t], kc_y1);
        bad += memcmp(kc_y0, kc_y1, ny) != 0 || !kc_canaries_ok(sizes[t]);
    }
    kc_prepare(lo - 1u, kc_y1, ny);
    lr_linrep_conv2d_reuse_s8_ref_n(&g, kc_x, &p, kc_scratch, lo - 1u, kc_y1);
    for (n = 0u; n < ny; n++) {
        bad += kc_y1[n] != 0x77;
    }
    bad += !kc_canaries_ok(lo - 1u);
    return bad;
}

/* Two input zero points, the output's and its clamp (the whole of int8 in half the cases): ADD's and MUL's. */
static void kc_zps_clamp(kc_rng *r, int32_t *zp0, int32_t *zp1, int32_t *zp_out, int32_t *lo, int32_t *hi)
{
    *zp0 = kc_int(r, -128, 127);
    *zp1 = kc_int(r, -128, 127);
    *zp_out = kc_int(r, -128, 127);
    *lo = kc_int(r, -128, 0);
    *hi = kc_int(r, *lo, 127);
    if (kc_int(r, 0, 1) == 0) {
        *lo = -128;
        *hi = 127;
    }
}

/* ADD: lr_add_s8_opt against lr_add_s8_ref on n random bytes (odd lengths too), TFLite-like constants (input
 * multipliers in [2^30, 2^31) with shifts -31..0, 0 and 2^30 included; output shift -31..0) and random zero
 * points and clamps. */
static int kc_case_add(kc_rng *r)
{
    lr_add_s8_params p;
    const uint32_t n = (uint32_t)kc_int(r, 1, KC_MAX_X / 2);
    uint32_t k;
    int bad;
    for (k = 0u; k < 3u; k++) {
        const int32_t pick = kc_int(r, 0, 7);
        p.mult[k] = pick == 0 ? 1 << 30 : pick == 1 ? 0x7fffffff : pick == 2 ? kc_int(r, 0, 1 << 20)
                                                                              : kc_int(r, 1 << 30, 0x7fffffff);
        p.shift[k] = kc_int(r, 0, 3) == 0 ? kc_int(r, -31, 0) : kc_int(r, k == 2u ? -24 : -3, k == 2u ? -14 : 0);
    }
    kc_zps_clamp(r, &p.zp0, &p.zp1, &p.zp_out, &p.act_min, &p.act_max);
    kc_fill_x(r, 2u * n);
    memset(kc_y0, 0x77, n);
    memset(kc_y1, 0x11, n);
    lr_add_s8_ref(kc_x, kc_x + n, n, &p, kc_y0);
    lr_add_s8_opt(kc_x, kc_x + n, n, &p, kc_y1);
    bad = memcmp(kc_y0, kc_y1, n) != 0;
    /* with the table (lr_add_s8_opt_n, exactly LR_ADD_S8_TAB_WORDS words: canaries after them) */
    kc_prepare(LR_ADD_S8_TAB_WORDS, kc_y1, n);
    lr_add_s8_opt_n(kc_x, kc_x + n, n, &p, kc_scratch, LR_ADD_S8_TAB_WORDS, kc_y1);
    bad += memcmp(kc_y0, kc_y1, n) != 0;
    bad += !kc_canaries_ok(LR_ADD_S8_TAB_WORDS);
    /* one word short: no table (lr_add_s8_opt), nothing written to the scratch */
    kc_prepare(0u, kc_y1, n); /* canaries from word 0 */
    lr_add_s8_opt_n(kc_x, kc_x + n, n, &p, kc_scratch, LR_ADD_S8_TAB_WORDS - 1u, kc_y1);
    bad += memcmp(kc_y0, kc_y1, n) != 0;
    bad += !kc_canaries_ok(0u);
    return bad;
}

/* lr_opt_requant against lr_requant: 64 accumulators (random, small, and the int32 extremes a right shift
 * allows) for a random multiplier (2^30, INT32_MAX, small, 0 or in [2^30, 2^31)) and shift (-31..1). */
static int kc_case_requant(kc_rng *r)
{
    const int32_t pick = kc_int(r, 0, 7);
    const int32_t mult = pick == 0 ? 1 << 30 : pick == 1 ? 0x7fffffff : pick == 2 ? kc_int(r, 0, 1 << 16)
                                                                        : kc_int(r, 1 << 30, 0x7fffffff);
    const int32_t shift = kc_int(r, 0, 3) == 0 ? kc_int(r, -31, 1) : kc_int(r, -14, -1);
    const int32_t zp = kc_int(r, -128, 127), lo = kc_int(r, -128, 0), hi = kc_int(r, lo, 127);
    lr_opt_rq q;
    int32_t k, bad = 0;
    lr_opt_rq_set(&q, mult, shift, zp, lo, hi);
    for (k = 0; k < 64; k++) {
        int32_t acc;
        const int32_t kind = kc_int(r, 0, 5);
        if (kind == 0) {
            acc = (int32_t)kc_next(r);
        } else if (kind == 1) {
            acc = kc_int(r, -4096, 4096);
        } else if (kind == 2) {
            acc = k & 1 ? 0x7fffffff - kc_int(r, 0, 3) : (-0x7fffffff - 1) + kc_int(r, 0, 3);
        } else {
            acc = kc_int(r, -(1 << 22), 1 << 22);
        }
        if (shift >= 0) {
            acc /= 4; /* acc * 2^shift fits int32 (the verifier's bound), and so does MBQM(acc) + zp */
        }
        bad += lr_opt_requant(acc, &q) != lr_requant(acc, mult, shift, zp, lo, hi);
    }
    return bad != 0;
}

/* An activation by table (lr_table_s8_opt) against its reference on n random bytes (odd lengths too; in place in
 * half the cases): the table built as the run path builds it, the 256 int8s through the reference in place;
 * LEAKY_RELU (multipliers in [2^30, 2^31), shifts -10..3, random zero points) or HARDSWISH (int16 multipliers, the
 * verifier's exponent ranges). The bytes after the n outputs stay untouched. */
static int kc_case_table(kc_rng *r)
{
    int8_t table[LR_ACT_S8_TAB_BYTES];
    const uint32_t n = (uint32_t)kc_int(r, 1, KC_MAX_X);
    const int leaky = kc_int(r, 0, 1) == 0, in_place = kc_int(r, 0, 1) == 0;
    lr_leaky_relu_s8_params pl;
    lr_hardswish_s8_params ph;
    uint32_t i;
    int bad;
    for (i = 0u; i < LR_ACT_S8_TAB_BYTES; i++) {
        table[i] = (int8_t)(uint8_t)i;
    }
    pl.zp_in = ph.zp_in = kc_int(r, -128, 127);
    pl.zp_out = ph.zp_out = kc_int(r, -128, 127);
    pl.mult_identity = kc_int(r, 1 << 30, 0x7fffffff);
    pl.shift_identity = kc_int(r, -10, 3);
    pl.mult_alpha = kc_int(r, 1 << 30, 0x7fffffff);
    pl.shift_alpha = kc_int(r, -10, 0);
    ph.out_mult = kc_int(r, 0, 32767);
    ph.out_exp = kc_int(r, -15, 0);
    ph.rel_mult = kc_int(r, 0, 32767);
    ph.rel_exp = kc_int(r, -15, 30);
    kc_fill_x(r, n);
    memset(kc_y0, 0x77, sizeof kc_y0);
    memset(kc_y1, 0x77, sizeof kc_y1);
    if (leaky) {
        lr_leaky_relu_s8_ref(table, LR_ACT_S8_TAB_BYTES, &pl, table);
        lr_leaky_relu_s8_ref(kc_x, n, &pl, kc_y0);
    } else {
        lr_hardswish_s8_ref(table, LR_ACT_S8_TAB_BYTES, &ph, table);
        lr_hardswish_s8_ref(kc_x, n, &ph, kc_y0);
    }
    if (in_place) {
        memcpy(kc_y1, kc_x, n);
        lr_table_s8_opt(kc_y1, n, table, kc_y1);
    } else {
        lr_table_s8_opt(kc_x, n, table, kc_y1);
    }
    bad = memcmp(kc_y0, kc_y1, sizeof kc_y0) != 0; /* the n outputs, and 0x77 after them */
    return bad;
}

/* MUL: lr_mul_s8_opt against lr_mul_s8_ref on c x inner random bytes (a gate of one value per channel in half the
 * cases; in place in half), TFLite-like constants: multipliers in [2^30, 2^31) with right shifts -15..-1 mostly,
 * else shifts -31..1 with any multiplier (the reference's arithmetic), random zero points and clamps. The bytes after
 * the outputs stay untouched. */
static int kc_case_mul(kc_rng *r)
{
    lr_mul_s8_params p;
    const uint32_t c = (uint32_t)kc_int(r, 1, 8), inner = (uint32_t)kc_int(r, 1, (KC_MAX_X / 2) / 8);
    const int per_channel = kc_int(r, 0, 1) == 0, in_place = kc_int(r, 0, 1) == 0;
    const uint32_t n = c * inner, nb = per_channel ? c : n;
    const int32_t pick = kc_int(r, 0, 7);
    p.mult = pick < 6 ? kc_int(r, 1 << 30, 0x7fffffff) : pick == 6 ? kc_int(r, 0, 1 << 20) : 1 << 30;
    p.shift = kc_int(r, 0, 5) == 0 ? kc_int(r, -31, 1) : kc_int(r, -15, -1);
    kc_zps_clamp(r, &p.zp0, &p.zp1, &p.zp_out, &p.act_min, &p.act_max);
    kc_fill_x(r, n + nb);
    memset(kc_y0, 0x77, sizeof kc_y0);
    memset(kc_y1, 0x77, sizeof kc_y1);
    lr_mul_s8_ref(kc_x, kc_x + n, c, inner, per_channel, &p, kc_y0);
    if (in_place) {
        memcpy(kc_y1, kc_x, n);
        lr_mul_s8_opt(kc_y1, kc_x + n, c, inner, per_channel, &p, kc_y1);
    } else {
        lr_mul_s8_opt(kc_x, kc_x + n, c, inner, per_channel, &p, kc_y1);
    }
    return memcmp(kc_y0, kc_y1, sizeof kc_y0) != 0;
}

/* A random CONV_TRANSPOSE2D geometry (torch's: output (h - 1) * s - pt - pb + d * (k - 1) + 1 + output padding;
 * groups, strides 1-3, dilation 1-2, 1 x 1 to 4 x 4 kernels; an eighth with 30-40 input channels) within the buffers
 * and KC_SCRATCH. */
static void kc_geom_tconv(kc_rng *r, lr_geom *g)
{
    for (;;) {
        const int wide = kc_int(r, 0, 7) == 0; /* an eighth: more input channels than a chunk (32) */
        g->groups = wide ? 1 : kc_int(r, 1, 3);
        g->cin_g = wide ? kc_int(r, 30, 40) : kc_int(r, 1, 6);
        g->cout_g = kc_int(r, 1, 4);
        g->c = g->groups * g->cin_g;
        g->oc = g->groups * g->cout_g;
        g->h = kc_int(r, 1, 7);
        g->w = kc_int(r, 1, 9);
        g->kh = kc_int(r, 1, 4);
        g->kw = kc_int(r, 1, 4);
        g->sh = kc_int(r, 1, 3);
        g->sw = kc_int(r, 1, 3);
        g->dh = kc_int(r, 1, 2);
        g->dw = kc_int(r, 1, 2);
        g->pt = kc_int(r, 0, g->dh * (g->kh - 1));
        g->pb = kc_int(r, 0, g->dh * (g->kh - 1));
        g->pl = kc_int(r, 0, g->dw * (g->kw - 1));
        g->pr = kc_int(r, 0, g->dw * (g->kw - 1));
        g->oh = (g->h - 1) * g->sh - g->pt - g->pb + g->dh * (g->kh - 1) + 1 + kc_int(r, 0, g->sh - 1);
        g->ow = (g->w - 1) * g->sw - g->pl - g->pr + g->dw * (g->kw - 1) + 1 + kc_int(r, 0, g->sw - 1);
        if (g->oh >= 1 && g->ow >= 1 && g->c * g->h * g->w <= KC_MAX_X && g->oc * g->oh * g->ow <= KC_MAX_Y &&
            g->oc <= KC_MAX_OC && g->oc * g->cin_g * g->kh * g->kw <= KC_MAX_W &&
            (uint64_t)g->oh * (uint64_t)g->ow + (uint64_t)(g->cin_g * g->kh * g->kw) <= KC_SCRATCH) {
            return;
        }
    }
}

/* CONV_TRANSPOSE2D, dense int8 weights and LinRep on one geometry: lr_conv_transpose2d_s8_opt ==
 * lr_conv_transpose2d_s8_ref and lr_linrep_conv_transpose2d_s8_opt == lr_linrep_conv_transpose2d_s8_ref, given the
 * reference's scratch and (LinRep) the preferred size (canaries after it). Returns the mismatches (bit 0 dense,
 * bits 1, 2 LinRep). */
static int kc_case_tconv(kc_rng *r)
{
    lr_geom g;
    lr_dense_s8_params d;
    lr_linrep_s8_params p;
    uint32_t ny, j, words, bad = 0u;
    kc_geom_tconv(r, &g);
    ny = (uint32_t)(g.oc * g.oh * g.ow);
    for (j = 0u; j < (uint32_t)(g.oc * g.cin_g * g.kh * g.kw); j++) {
        kc_w[j] = (unsigned char)(int8_t)(kc_int(r, 0, 9) == 0 ? 0 : kc_int(r, -128, 127));
    }
    memset(&d, 0, sizeof d);
    d.w = kc_w;
    d.bias = kc_fill_bias(r, (uint32_t)g.oc);
    kc_fill_x(r, (uint32_t)(g.c * g.h * g.w));
    kc_requant(r, (uint32_t)g.oc, &d.rq, &d.in_offset);
    words = (uint32_t)(g.oh * g.ow);
    kc_prepare(words, kc_y0, ny);
    lr_conv_transpose2d_s8_ref(&g, kc_x, &d, kc_scratch, kc_y0);
    kc_prepare(words, kc_y1, ny); /* the reference's scratch: the plane */
    lr_conv_transpose2d_s8_opt(&g, kc_x, &d, kc_scratch, kc_y1);
    bad |= (uint32_t)(memcmp(kc_y0, kc_y1, ny) != 0 || !kc_canaries_ok(words));
    (void)kc_linrep_draw(r, &g, &p);
    words = (uint32_t)(g.oh * g.ow + g.kh * g.kw);
    kc_prepare(words, kc_y0, ny);
    lr_linrep_conv_transpose2d_s8_ref(&g, kc_x, &p, kc_scratch, kc_y0);
    { /* the reference's scratch (kernels rebuilt per tap), and the preferred (once per output channel) */
        const uint32_t sizes[2] = {words, (uint32_t)lr_conv_transpose2d_s8_opt_scratch(&g, 1)};
        for (j = 0u; j < 2u; j++) {
            kc_prepare(sizes[j], kc_y1, ny);
            lr_linrep_conv_transpose2d_s8_opt(&g, kc_x, &p, kc_scratch, sizes[j], kc_y1);
            bad |= (uint32_t)(memcmp(kc_y0, kc_y1, ny) != 0 || !kc_canaries_ok(sizes[j])) << (1u + j);
        }
    }
    return (int)bad;
}

/* Bilinear RESIZE (half-pixel centres or align corners, up and down, any sizes the verifier admits):
 * lr_resize_bilinear_s8_opt == lr_resize_bilinear_s8_ref. Returns 1 on a mismatch. */
static int kc_case_resize(kc_rng *r)
{
    lr_geom g;
    int align;
    uint32_t ny;
    memset(&g, 0, sizeof g);
    do {
        align = kc_int(r, 0, 1);
        g.c = kc_int(r, 1, 4);
        g.h = kc_int(r, 1, 12);
        g.w = kc_int(r, 1, 12);
        g.oh = kc_int(r, 0, 3) == 0 ? kc_int(r, 1, 12) : 2 * g.h; /* a quarter any size, else twice (a decoder's) */
        g.ow = kc_int(r, 0, 3) == 0 ? kc_int(r, 1, 40) : 2 * g.w;
    } while (g.c * g.h * g.w > KC_MAX_X || g.c * g.oh * g.ow > KC_MAX_Y ||
             !lr_resize_bilinear_s8_axis_ok(g.h, g.oh, align) || !lr_resize_bilinear_s8_axis_ok(g.w, g.ow, align));
    g.oc = g.c;
    ny = (uint32_t)(g.c * g.oh * g.ow);
    kc_fill_x(r, (uint32_t)(g.c * g.h * g.w));
    memset(kc_y0, 0x77, ny);
    memset(kc_y1, 0x11, ny);
    lr_resize_bilinear_s8_ref(&g, align, kc_x, kc_y0);
    lr_resize_bilinear_s8_opt(&g, align, kc_x, kc_y1);
    return memcmp(kc_y0, kc_y1, ny) != 0;
}

/* `cases` ADD, requantisation, activation-table, MUL, transposed-conv and bilinear-resize cases from `seed`;
 * mismatches per kind in fails[6]. */
static int kc_run_small(uint32_t seed, int cases, int fails[6])
{
    kc_rng r;
    int c;
    r.s = seed ? seed : 1u;
    fails[0] = fails[1] = fails[2] = fails[3] = fails[4] = fails[5] = 0;
    for (c = 0; c < cases; c++) {
        fails[0] += kc_case_add(&r);
        fails[1] += kc_case_requant(&r);
        fails[2] += kc_case_table(&r);
        fails[3] += kc_case_mul(&r);
        fails[4] += kc_case_tconv(&r) != 0;
        fails[5] += kc_case_resize(&r);
    }
    return fails[0] + fails[1] + fails[2] + fails[3] + fails[4] + fails[5];
}

/* `cases` template-reuse cases from `seed` (kc_case_reuse_sizes); the mismatches. */
static int kc_run_reuse(uint32_t seed, int cases)
{
    kc_rng r;
    int c, bad = 0;
    r.s = seed ? seed : 1u;
    for (c = 0; c < cases; c++) {
        bad += kc_case_reuse_sizes(&r);
    }
    return bad;
}

/* `cases` cases of each kind from `seed`; mismatches counted (per kind in fails[3], if not NULL). */
static int kc_run(uint32_t seed, int cases, int fails[3])
{
    kc_rng r;
    int c, total = 0, f[3] = {0, 0, 0};
    r.s = seed ? seed : 1u;
    for (c = 0; c < cases; c++) {
        f[0] += kc_case_conv(&r) != 0;
        f[1] += kc_case_linear(&r) != 0;
        f[2] += kc_case_linrep(&r) != 0;
    }
    total = f[0] + f[1] + f[2];
    if (fails) {
        fails[0] = f[0];
        fails[1] = f[1];
        fails[2] = f[2];
    }
    return total;
}

#endif /* LR_KERNEL_CASES_S8_H */
