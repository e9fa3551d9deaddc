/*
 * lr_linrep_conv2d_direct_f32_ref.c -- LINREP_CONV2D on the direct path: the plain reference.
 *
 * The codebook is decoded once per op to fp32 at the scratch head (k * kh * kw floats: the
 * templates every kernel of the layer shares, not the layer's weights). Then, per output channel o,
 * its kernels are rebuilt after the codebook (never a layer's whole weight tensor):
 *     kernel[i][t] = a[o][i] * T[idx[o][i]][t] + b[o][i]      (fp32, multiply then add)
 * with a, b decoded from fp16, or from ab_bits-bit integers times the channel's scales, and
 * convolved by lr_conv2d_channel_f32_ref. Pruned kernels (kernel mask) have no index, a or b and
 * are skipped.
 */
#include "kernels/lr_kernels.h"

void lr_linrep_conv2d_direct_f32_ref(const lr_geom *geom, const float *x, const lr_linrep_params *params,
                                     float *scratch, float *y)
{
    const lr_geom gl = *geom; /* local copies, as for the reuse kernel */
    const lr_linrep_params pp = *params;
    const lr_geom *const g = &gl;
    const lr_linrep_params *const p = &pp;
    const unsigned char *const blob = p->blob;
    const lr_linrep *lr = &p->lr;
    const uint32_t kk = (uint32_t)(g->kh * g->kw);
    const uint32_t n_tmpl = p->k * kk;
    const int32_t plane_in = g->h * g->w, plane_out = g->oh * g->ow;
    const lr_values bias = p->bias;
    const unsigned char *mask = lr->mask != 0u ? blob + lr->mask : NULL;
    float *kernels = scratch + n_tmpl; /* one output channel's kernels, after the codebook */
    uint32_t kept = 0u;                /* kept kernels so far (their index in idx, a, b) */
    int32_t o;
    uint32_t i, t;

    for (t = 0; t < n_tmpl; t++) {
        scratch[t] = lr_value(p->tmpl, t); /* fp16 or fp32 in the blob -> fp32, once per op */
    }
    for (o = 0; o < g->oc; o++) {
        lr_weights w;
        const float *xg = x + (o / g->cout_g) * g->cin_g * plane_in;
        w.f = kernels;
        w.le = NULL;
        for (i = 0; i < (uint32_t)g->cin_g; i++) {
            const uint32_t n = (uint32_t)o * (uint32_t)g->cin_g + i;
            uint32_t idx;
            const float *tmpl;
            float *dst = kernels + i * kk;
            float a, b;
            if (!lr_kept(mask, n)) {
                continue; /* pruned: no index, no a/b, skipped by the conv */
            }
            idx = lr_unpack_index(blob + lr->idx, kept, lr->bits);
            tmpl = scratch + idx * kk;
            lr_linrep_ab(blob, lr, kept, (uint32_t)o, &a, &b);
            kept++;
            for (t = 0; t < kk; t++) {
                dst[t] = a * tmpl[t] + b;
            }
        }
        lr_conv2d_channel_f32_ref(g, xg, w, bias.p != NULL ? lr_value(bias, (uint32_t)o) : 0.0f,
                                  y + o * plane_out, mask, (uint32_t)o * (uint32_t)g->cin_g);
    }
}
