/*
 * lr_conv2d_s8_ref.c -- CONV2D of an int8 model (incl. depthwise and grouped convs), as TFLite's
 * reference ConvPerChannel / DepthwiseConvPerChannel: per output channel its int8 weights (zero point 0)
 * widened to int32 in scratch, then lr_conv2d_channel_s8_ref (bias, the in-bounds taps, requantisation
 * per output channel). Scratch: cin_g * kh * kw words.
 */
#include "kernels/lr_kernels.h"

void lr_conv2d_s8_ref(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int32_t *scratch, int8_t *y)
{
    const int32_t per = g->cin_g * g->kh * g->kw;
    int32_t o, k;
    for (o = 0; o < g->oc; o++) {
        const unsigned char *w = p->w + (size_t)o * (size_t)per;
        for (k = 0; k < per; k++) {
            scratch[k] = lr_s8(w[k]);
        }
        lr_conv2d_channel_s8_ref(g, x + (size_t)(o / g->cout_g * g->cin_g) * (size_t)(g->h * g->w), scratch,
                                 p->bias ? lr_lei32(p->bias + 4u * (uint32_t)o) : 0, p->in_offset,
                                 lr_rq_mult(&p->rq, (uint32_t)o), lr_rq_shift(&p->rq, (uint32_t)o), &p->rq,
                                 y + (size_t)o * (size_t)(g->oh * g->ow));
    }
}
