/*
 * lr_conv2d_channel_s8_ref.c -- one output channel of an int8 convolution (shared by the dense CONV2D and
 * the LinRep direct path, as lr_conv2d_channel_f32_ref is by the fp32 ones): with the channel's kernels
 * w [cin_g][kh][kw] as int32, acc = bias + sum w * (x + in_offset) over the in-bounds taps of the cin_g
 * input channels at x (padding is the zero point: it adds nothing), requantised with (mult, shift) into
 * y [oh][ow]. The verifier bounded |bias| + 255 * sum |w| below 2^31: every partial sum fits int32.
 *
 * Each output pixel runs over its in-bounds taps only: the rows [ky0, ky1) and columns [kx0, kx1) of the
 * kernel that fall inside the input (tap_range), no per-tap checks; per tap, the loop runs over the input
 * channels (long loops for 1 x 1 and 3 x 3 kernels alike). Interior pixels (every tap in bounds: the rows
 * whose kernel rows all are, the columns [oxa, oxb) computed once) go two at a time, sharing each weight, and
 * take the offset out of the sum: acc = bias + sum w * x, then + in_offset * sum w (sum w: once per call).
 * That is the same integer; its partial sums stay within |bias| + 128 * sum |w| and the last term within
 * 128 * sum |w| (|x| <= 128, |in_offset| <= 128), so none overflows. Border pixels add w * (x + in_offset)
 * tap by tap.
 */
#include "kernels/lr_kernels.h"

/* The kernel taps t in [*lo, *hi) whose input position base + t * d lies in [0, n) (k taps). */
static void tap_range(int32_t base, int32_t d, int32_t k, int32_t n, int32_t *lo, int32_t *hi)
{
    const int32_t l = base >= 0 ? 0 : (-base + d - 1) / d;
    const int32_t h = base > n - 1 ? 0 : (n - 1 - base) / d + 1;
    *lo = l < k ? l : k;
    *hi = h < k ? h : k;
    *hi = *hi > *lo ? *hi : *lo;
}

/* acc + sum over the in-bounds taps [ky0, ky1) x [kx0, kx1) of the cin_g channels of w * (x + in_offset), for the
 * output pixel whose window starts at input row iy0, column ix0 (a border pixel). */
static int32_t border_pixel(const lr_geom *g, const int8_t *x, const int32_t *w, int32_t in_offset, int32_t iy0,
                            int32_t ix0, int32_t ky0, int32_t ky1, int32_t kx0, int32_t kx1, int32_t acc)
{
    const int32_t kk = g->kh * g->kw, hw = g->h * g->w;
    int32_t i, ky, kx;
    for (ky = ky0; ky < ky1; ky++) {
        for (kx = kx0; kx < kx1; kx++) {
            const int8_t *xt = x + (iy0 + ky * g->dh) * g->w + ix0 + kx * g->dw; /* in bounds */
            const int32_t *wt = w + ky * g->kw + kx;
            for (i = 0; i < g->cin_g; i++) {
                acc += wt[i * kk] * ((int32_t)xt[i * hw] + in_offset);
            }
        }
    }
    return acc;
}

void lr_conv2d_channel_s8_ref(const lr_geom *g, const int8_t *x, const int32_t *w, int32_t bias, int32_t in_offset,
                              int32_t mult, int32_t shift, const lr_requant_s8 *rq, int8_t *y)
{
    const int32_t kk = g->kh * g->kw, hw = g->h * g->w, cin = g->cin_g, sw = g->sw;
    int32_t wsum = 0, oxa, oxb, oy, ox, i, ky, kx, k;
    for (k = 0; k < cin * kk; k++) {
        wsum += w[k]; /* |sum w| <= sum |w| < 2^31 / 255 */
    }
    /* the interior columns [oxa, oxb): every kernel column in bounds */
    tap_range(-g->pl, sw, g->ow, g->w, &oxa, &oxb);
    {
        int32_t lo2, hi2;
        tap_range((g->kw - 1) * g->dw - g->pl, sw, g->ow, g->w, &lo2, &hi2);
        oxa = oxa > lo2 ? oxa : lo2;
        oxb = oxb < hi2 ? oxb : hi2;
        oxb = oxb > oxa ? oxb : oxa;
    }
    for (oy = 0; oy < g->oh; oy++) {
        const int32_t iy0 = oy * g->sh - g->pt;
        int32_t ky0, ky1;
        int8_t *yr = y + oy * g->ow;
        tap_range(iy0, g->dh, g->kh, g->h, &ky0, &ky1);
        ox = 0;
        if (ky0 == 0 && ky1 == g->kh) {
            for (ox = 0; ox < oxa; ox++) {
                int32_t kx0, kx1;
                tap_range(ox * sw - g->pl, g->dw, g->kw, g->w, &kx0, &kx1);
                yr[ox] = lr_requant(border_pixel(g, x, w, in_offset, iy0, ox * sw - g->pl, 0, g->kh, kx0, kx1, bias),
                                    mult, shift, rq->zp_out, rq->act_min, rq->act_max);
            }
            for (; ox + 2 <= oxb; ox += 2) { /* interior, two pixels at a time */
                int32_t acc0 = bias, acc1 = bias;
                for (ky = 0; ky < g->kh; ky++) {
                    for (kx = 0; kx < g->kw; kx++) { /* one tap of every input channel */
                        const int8_t *xt = x + (iy0 + ky * g->dh) * g->w + ox * sw - g->pl + kx * g->dw;
                        const int32_t *wt = w + ky * g->kw + kx;
                        for (i = 0; i < cin; i++) {
                            const int32_t wv = wt[i * kk];
                            acc0 += wv * (int32_t)xt[i * hw];
                            acc1 += wv * (int32_t)xt[i * hw + sw];
                        }
                    }
                }
                yr[ox] = lr_requant(acc0 + in_offset * wsum, mult, shift, rq->zp_out, rq->act_min, rq->act_max);
                yr[ox + 1] = lr_requant(acc1 + in_offset * wsum, mult, shift, rq->zp_out, rq->act_min, rq->act_max);
            }
        }
        for (; ox < g->ow; ox++) { /* the rest: border pixels, and the last interior one of an odd count */
            int32_t kx0, kx1;
            tap_range(ox * sw - g->pl, g->dw, g->kw, g->w, &kx0, &kx1);
            yr[ox] = lr_requant(border_pixel(g, x, w, in_offset, iy0, ox * sw - g->pl, ky0, ky1, kx0, kx1, bias),
                                mult, shift, rq->zp_out, rq->act_min, rq->act_max);
        }
    }
}
