/*
 * lr_conv2d_s8_ref.c -- CONV2D of an int8 model (incl. depthwise and grouped convs), as TFLite's
 * reference ConvPerChannel / DepthwiseConvPerChannel: acc = bias[o] + sum w * (x + in_offset) over
 * the in-bounds taps (padding is the zero point: it adds nothing), then requantised per output channel.
 * The verifier bounded every accumulator below 2^31 (docs/INTEGER.md section 3).
 */
#include "kernels/lr_kernels.h"

void lr_conv2d_s8_ref(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int8_t *y)
{
    const int32_t kk = g->kh * g->kw;
    int32_t o, oy, ox, i, ky, kx;
    for (o = 0; o < g->oc; o++) {
        const int32_t grp = o / g->cout_g;
        const unsigned char *w = p->w + (size_t)o * (size_t)(g->cin_g * kk);
        const int32_t bias = p->bias ? lr_lei32(p->bias + 4u * (uint32_t)o) : 0;
        const int32_t mult = lr_rq_mult(&p->rq, (uint32_t)o), shift = lr_rq_shift(&p->rq, (uint32_t)o);
        for (oy = 0; oy < g->oh; oy++) {
            for (ox = 0; ox < g->ow; ox++) {
                int32_t acc = bias;
                for (i = 0; i < g->cin_g; i++) {
                    const int8_t *xc = x + (size_t)(grp * g->cin_g + i) * (size_t)(g->h * g->w);
                    for (ky = 0; ky < g->kh; ky++) {
                        const int32_t iy = oy * g->sh - g->pt + ky * g->dh;
                        if (iy < 0 || iy >= g->h) {
                            continue;
                        }
                        for (kx = 0; kx < g->kw; kx++) {
                            const int32_t ix = ox * g->sw - g->pl + kx * g->dw;
                            if (ix >= 0 && ix < g->w) {
                                acc += lr_s8(w[i * kk + ky * g->kw + kx]) * ((int32_t)xc[iy * g->w + ix] + p->in_offset);
                            }
                        }
                    }
                }
                y[(o * g->oh + oy) * g->ow + ox] = lr_requant(acc, mult, shift, p->rq.zp_out, p->rq.act_min,
                                                              p->rq.act_max);
            }
        }
    }
}
