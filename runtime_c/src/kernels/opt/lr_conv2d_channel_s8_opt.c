/*
 * lr_conv2d_channel_s8_opt.c -- one output channel of an int8 conv with int32 kernels (the depthwise
 * conv's and the LinRep direct path's core), equal to lr_conv2d_channel_s8_ref bit for bit. Interior
 * pixels (every tap inside the input) need no bounds test and no per-tap offset:
 *     acc = bias + in_offset * sum(w) + sum w * x,
 * the same integer as bias + sum w * (x + in_offset); |in_offset * sum(w)| and every partial sum of
 * w * x stay below 128 * sum |w| (the verifier's bound). Border pixels take the reference's loop.
 */
#include "kernels/lr_opt_s8.h"

int8_t lr_opt_requant_any(int32_t acc, const lr_opt_rq *r)
{
    return lr_requant(acc, r->mult, r->shift, lr_as_i32(r->zc), r->lo, r->hi);
}

void lr_opt_requant_run(const int32_t *acc, int32_t n, const lr_opt_rq *r, int8_t *y)
{
    lr_opt_requant_n(acc, n, r, y);
}

/* One border pixel, as the reference. */
static int32_t border(const lr_geom *g, const int8_t *x, const int32_t *w, int32_t acc, int32_t in_offset,
                      int32_t oy, int32_t ox)
{
    int32_t i, ky, kx;
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
    return acc;
}

void lr_conv2d_channel_s8_opt(const lr_geom *g, const int8_t *x, const int32_t *w, int32_t bias, int32_t in_offset,
                              int32_t mult, int32_t shift, const lr_requant_s8 *rq, int8_t *y)
{
    const int32_t kk = g->kh * g->kw, hw = g->h * g->w;
    const int32_t ylo = lr_range_lo(-g->pt, g->sh), yhi = lr_range_hi((g->kh - 1) * g->dh - g->pt, g->sh, g->h, g->oh);
    const int32_t xlo = lr_range_lo(-g->pl, g->sw), xhi = lr_range_hi((g->kw - 1) * g->dw - g->pl, g->sw, g->w, g->ow);
    int32_t sumw = 0, k, oy, ox;
    for (k = 0; k < g->cin_g * kk; k++) {
        sumw += w[k];
    }
    sumw *= in_offset;
    for (oy = 0; oy < g->oh; oy++) {
        const int inner_y = oy >= ylo && oy < yhi;
        for (ox = 0; ox < g->ow; ox++) {
            int32_t acc;
            if (inner_y && ox >= xlo && ox < xhi) {
                const int8_t *xp = x + (oy * g->sh - g->pt) * g->w + (ox * g->sw - g->pl);
                const int32_t *wp = w;
                int32_t i, ky, kx;
                acc = bias + sumw;
                for (i = 0; i < g->cin_g; i++) {
                    const int8_t *xr = xp + (size_t)i * (size_t)hw;
                    for (ky = 0; ky < g->kh; ky++) {
                        for (kx = 0; kx < g->kw; kx++) {
                            acc += wp[kx] * (int32_t)xr[kx * g->dw];
                        }
                        wp += g->kw;
                        xr += g->dh * g->w;
                    }
                }
            } else {
                acc = border(g, x, w, bias, in_offset, oy, ox);
            }
            y[oy * g->ow + ox] = lr_requant(acc, mult, shift, rq->zp_out, rq->act_min, rq->act_max);
        }
    }
}
