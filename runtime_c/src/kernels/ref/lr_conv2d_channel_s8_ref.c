/*
 * lr_conv2d_channel_s8_ref.c -- one output channel of an int8 convolution (shared by the dense CONV2D and
 * the LinRep direct path, as lr_conv2d_channel_f32_ref is by the fp32 ones): with the channel's kernels
 * w [cin_g][kh][kw] as int32, acc = bias + sum w * (x + in_offset) over the in-bounds taps of the cin_g
 * input channels at x (padding is the zero point: it adds nothing), requantised with (mult, shift) into
 * y [oh][ow]. The verifier bounded |bias| + 255 * sum |w| below 2^31: every partial sum fits int32.
 *
 * Each output pixel runs over its in-bounds taps only: the rows [ky0, ky1) and columns [kx0, kx1) of the
 * kernel that fall inside the input (tap_range), no per-tap checks; per tap, the loop runs over the input
 * channels (long loops for 1 x 1 and 3 x 3 kernels alike). An interior pixel (every tap in bounds)
 * takes the offset out of the sum: acc = bias + sum w * x, then + in_offset * sum w (sum w: once per call).
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

void lr_conv2d_channel_s8_ref(const lr_geom *g, const int8_t *x, const int32_t *w, int32_t bias, int32_t in_offset,
                              int32_t mult, int32_t shift, const lr_requant_s8 *rq, int8_t *y)
{
    const int32_t kk = g->kh * g->kw, hw = g->h * g->w;
    int32_t wsum = 0, oy, ox, i, ky, kx, k;
    for (k = 0; k < g->cin_g * kk; k++) {
        wsum += w[k]; /* |sum w| <= sum |w| < 2^31 / 255 */
    }
    for (oy = 0; oy < g->oh; oy++) {
        const int32_t iy0 = oy * g->sh - g->pt;
        int32_t ky0, ky1;
        tap_range(iy0, g->dh, g->kh, g->h, &ky0, &ky1);
        for (ox = 0; ox < g->ow; ox++) {
            const int32_t ix0 = ox * g->sw - g->pl;
            int32_t kx0, kx1, acc = bias;
            tap_range(ix0, g->dw, g->kw, g->w, &kx0, &kx1);
            if (ky0 == 0 && ky1 == g->kh && kx0 == 0 && kx1 == g->kw) { /* interior */
                for (ky = 0; ky < g->kh; ky++) {
                    for (kx = 0; kx < g->kw; kx++) { /* one tap of every input channel */
                        const int8_t *xt = x + (iy0 + ky * g->dh) * g->w + ix0 + kx * g->dw;
                        const int32_t *wt = w + ky * g->kw + kx;
                        for (i = 0; i < g->cin_g; i++) {
                            acc += wt[i * kk] * (int32_t)xt[i * hw];
                        }
                    }
                }
                acc += in_offset * wsum;
            } else {
                for (ky = ky0; ky < ky1; ky++) {
                    for (kx = kx0; kx < kx1; kx++) {
                        const int8_t *xt = x + (iy0 + ky * g->dh) * g->w + ix0 + kx * g->dw; /* in bounds */
                        const int32_t *wt = w + ky * g->kw + kx;
                        for (i = 0; i < g->cin_g; i++) {
                            acc += wt[i * kk] * ((int32_t)xt[i * hw] + in_offset);
                        }
                    }
                }
            }
            y[oy * g->ow + ox] = lr_requant(acc, mult, shift, rq->zp_out, rq->act_min, rq->act_max);
        }
    }
}
