/*
 * lr_conv2d_f32_ref.c -- CONV2D with dense weights (grouped and depthwise convs included: groups
 * split the channels), one output channel at a time through lr_conv2d_channel_f32_ref.
 *
 * Weights are never copied as a whole: fp32 weights are read in place from the blob; fp16 weights
 * of one output channel are decoded into the scratch (cin_g * kh * kw floats), int8 ones as
 * q * scale[o] (fp32 multiply).
 */
#include "kernels/lr_kernels.h"

void lr_conv2d_f32_ref(const lr_geom *g, const float *x, const lr_dense_params *p, float *scratch, float *y)
{
    const uint32_t per_o = (uint32_t)(g->cin_g * g->kh * g->kw); /* kernels of one output channel */
    const int32_t plane_in = g->h * g->w, plane_out = g->oh * g->ow;
    const lr_values wv = p->w, bias = p->bias;
    int32_t o;
    uint32_t t;

    for (o = 0; o < g->oc; o++) {
        lr_weights w;
        const float *xg = x + (o / g->cout_g) * g->cin_g * plane_in;
        const uint32_t first = (uint32_t)o * per_o;
        w.f = scratch;
        w.le = NULL;
        if (wv.f16) {
            for (t = 0; t < per_o; t++) {
                scratch[t] = lr_value(wv, first + t);
            }
        } else if (wv.i8) {
            const float s = lr_value(p->scale, p->n_scale == 1u ? 0u : (uint32_t)o);
            for (t = 0; t < per_o; t++) {
                scratch[t] = lr_value(wv, first + t) * s;
            }
        } else {
            w.f = NULL;
            w.le = wv.p + 4u * first;
        }
        lr_conv2d_channel_f32_ref(g, xg, w, bias.p != NULL ? lr_value(bias, (uint32_t)o) : 0.0f,
                                  y + o * plane_out, NULL, 0u);
    }
}
