/*
 * lr_conv2d_channel_s8_ref.c -- one output channel of an int8 convolution (shared by the dense CONV2D and
 * the LinRep direct path, as lr_conv2d_channel_f32_ref is by the fp32 ones): with the channel's kernels
 * w [cin_g][kh][kw] as int32, acc = bias + sum w * (x + in_offset) over the in-bounds taps of the cin_g
 * input channels at x (padding is the zero point: it adds nothing), requantised with (mult, shift) into
 * y [oh][ow]. The verifier bounded |bias| + 255 * sum |w| below 2^31: every partial sum fits int32.
 */
#include "kernels/lr_kernels.h"

void lr_conv2d_channel_s8_ref(const lr_geom *g, const int8_t *x, const int32_t *w, int32_t bias, int32_t in_offset,
                              int32_t mult, int32_t shift, const lr_requant_s8 *rq, int8_t *y)
{
    int32_t oy, ox, i, ky, kx;
    for (oy = 0; oy < g->oh; oy++) {
        for (ox = 0; ox < g->ow; ox++) {
            int32_t acc = bias;
            for (i = 0; i < g->cin_g; i++) {
                const int8_t *xc = x + (size_t)i * (size_t)(g->h * g->w);
                const int32_t *wi = w + i * g->kh * g->kw;
                for (ky = 0; ky < g->kh; ky++) {
                    const int32_t iy = oy * g->sh - g->pt + ky * g->dh;
                    if (iy < 0 || iy >= g->h) {
                        continue;
                    }
                    for (kx = 0; kx < g->kw; kx++) {
                        const int32_t ix = ox * g->sw - g->pl + kx * g->dw;
                        if (ix >= 0 && ix < g->w) {
                            acc += wi[ky * g->kw + kx] * ((int32_t)xc[iy * g->w + ix] + in_offset);
                        }
                    }
                }
            }
            y[oy * g->ow + ox] = lr_requant(acc, mult, shift, rq->zp_out, rq->act_min, rq->act_max);
        }
    }
}
