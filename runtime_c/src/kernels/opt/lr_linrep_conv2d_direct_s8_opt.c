/*
 * lr_linrep_conv2d_direct_s8_opt.c -- LINREP_CONV2D of an int8 model, direct path, optimised (equal to
 * lr_linrep_conv2d_direct_s8_ref bit for bit): per output channel its kernels rebuilt as int32 in
 * scratch exactly as the reference does (pruned kernels 0), then lr_conv2d_channel_s8_opt (interior
 * pixels without bounds tests or per-tap offsets). Same scratch as the reference.
 */
#include "kernels/lr_opt_s8.h"

void lr_linrep_conv2d_direct_s8_opt(const lr_geom *g, const int8_t *x, const lr_linrep_s8_params *p,
                                    int32_t *scratch, int8_t *y)
{
    const int32_t kk = g->kh * g->kw;
    const unsigned char *mask = p->lr.mask ? p->blob + p->lr.mask : NULL;
    uint32_t kept = 0u;
    int32_t o, i, k;
    for (o = 0; o < g->oc; o++) {
        const int32_t e = lr_s8(p->bexp[o]);
        const int64_t pa = (int64_t)1 << (e < 0 ? -e : 0), pb = (int64_t)1 << (e > 0 ? e : 0);
        for (i = 0; i < g->cin_g; i++) {
            int32_t *w = scratch + i * kk;
            const unsigned char *t;
            int64_t a, b;
            if (!lr_kept(mask, (uint32_t)(o * g->cin_g + i))) {
                for (k = 0; k < kk; k++) {
                    w[k] = 0;
                }
                continue;
            }
            t = p->tmpl + (size_t)kk * lr_unpack_index(p->blob + p->lr.idx, kept, p->lr.bits);
            a = lr_unpack_signed(p->blob + p->lr.abq, 2u * kept, p->lr.ab_bits) * pa;
            b = lr_unpack_signed(p->blob + p->lr.abq, 2u * kept + 1u, p->lr.ab_bits) * pb;
            for (k = 0; k < kk; k++) {
                w[k] = (int32_t)(a * lr_s8(t[k]) + b);
            }
            kept++;
        }
        lr_conv2d_channel_s8_opt(g, x + (size_t)(o / g->cout_g * g->cin_g) * (size_t)(g->h * g->w), scratch,
                                 p->bias ? lr_lei32(p->bias + 4u * (uint32_t)o) : 0, p->in_offset,
                                 lr_rq_mult(&p->rq, (uint32_t)o), lr_rq_shift(&p->rq, (uint32_t)o), &p->rq,
                                 y + (size_t)o * (size_t)(g->oh * g->ow));
    }
}
