/*
 * lr_conv2d_s8_opt.c -- CONV2D of an int8 model, optimised (equal to lr_conv2d_s8_ref bit for bit).
 *
 * Dense and grouped convs (CMSIS-NN's scheme, in our [C, H, W] layout): two output pixels at a time are
 * gathered (im2col) into int16 columns of cin_g * kh * kw values x + in_offset (0 for padding taps),
 * then each pair of output channels of the group takes its dot products with both columns: 2 x 2
 * accumulators, so every weight and every column value loaded serves two multiply-adds. With the DSP
 * extension the dot products run four taps per step: the weights' bytes (0, 2) and (1, 3) sign-extended
 * by SXTB16 into int16 pairs, the column stored in the same (0, 2, 1, 3) order, two SMLADs per channel
 * and pixel. Elsewhere the same blocking in plain C. The columns take the reference's scratch
 * (cin_g * kh * kw int32 words = two columns of int16).
 *
 * Depthwise convs (one input and one output channel per group) take lr_conv2d_channel_s8_opt per
 * channel (interior pixels without bounds tests), the weights widened to int32 in scratch.
 */
#include "kernels/lr_opt_s8.h"

/* Column of output pixel (oy, ox) of the group's input channels at x, in tap order k = (i * kh + ky) * kw
 * + kx: col[k] = x + in_offset, 0 outside the input. Interior pixels (every tap inside) skip the tests.
 * On the DSP path each full group of four is then permuted to (0, 2, 1, 3), the order SXTB16 gives the
 * weights' bytes in (PKHBT / PKHTB on the two words of the group). */
void lr_opt_im2col(const lr_geom *g, const int8_t *x, int32_t oy, int32_t ox, int32_t in_offset, int32_t per,
                   int16_t *col)
{
    const int32_t iy0 = oy * g->sh - g->pt, ix0 = ox * g->sw - g->pl, hw = g->h * g->w;
    int16_t *p = col;
    int32_t i, ky, kx;
    if (iy0 >= 0 && iy0 + (g->kh - 1) * g->dh < g->h && ix0 >= 0 && ix0 + (g->kw - 1) * g->dw < g->w) {
        const int8_t *xr0 = x + iy0 * g->w + ix0;
        for (i = 0; i < g->cin_g; i++) {
            const int8_t *xr = xr0 + (size_t)i * (size_t)hw;
            for (ky = 0; ky < g->kh; ky++) {
                for (kx = 0; kx < g->kw; kx++) {
                    *p++ = (int16_t)((int32_t)xr[kx * g->dw] + in_offset);
                }
                xr += g->dh * g->w;
            }
        }
    } else {
        for (i = 0; i < g->cin_g; i++) {
            const int8_t *xc = x + (size_t)i * (size_t)hw;
            for (ky = 0; ky < g->kh; ky++) {
                const int32_t iy = iy0 + ky * g->dh;
                const int row_in = iy >= 0 && iy < g->h;
                for (kx = 0; kx < g->kw; kx++) {
                    const int32_t ix = ix0 + kx * g->dw;
                    *p++ = (int16_t)(row_in && ix >= 0 && ix < g->w ? (int32_t)xc[iy * g->w + ix] + in_offset : 0);
                }
            }
        }
    }
#if LR_DSP
    {
        int32_t k;
        for (k = 0; k + 4 <= per; k += 4) {
            const uint32_t lo = lr_ld32(col + k), hi = lr_ld32(col + k + 2); /* (x0, x1), (x2, x3) */
            const uint32_t a = (lo & 0xffffu) | (hi << 16), b = (lo >> 16) | (hi & 0xffff0000u);
            memcpy(col + k, &a, sizeof a);     /* (x0, x2) */
            memcpy(col + k + 2, &b, sizeof b); /* (x1, x3) */
        }
    }
#else
    (void)per;
#endif
}

/* acc[c][q] += dot(weights of channel c, column q) for nc <= 2 channels at w (per bytes each) and nq <= 2
 * columns. */
static void dot(const unsigned char *w, int32_t per, int32_t nc, const int16_t *c0, const int16_t *c1, int32_t nq,
                int32_t acc[2][2])
{
    const unsigned char *w1 = nc > 1 ? w + per : w;
    const int16_t *d1 = nq > 1 ? c1 : c0;
    int32_t a00 = acc[0][0], a01 = acc[0][1], a10 = acc[1][0], a11 = acc[1][1];
    int32_t k = 0;
#if LR_DSP
    for (; k + 4 <= per; k += 4) {
        const uint32_t wa = lr_ld32(w + k), wb = lr_ld32(w1 + k);
        const int16x2_t wa02 = lr_sx02(wa), wa13 = lr_sx13(wa);
        const int16x2_t wb02 = lr_sx02(wb), wb13 = lr_sx13(wb);
        const int16x2_t x0a = (int16x2_t)lr_ld32(c0 + k), x0b = (int16x2_t)lr_ld32(c0 + k + 2);
        const int16x2_t x1a = (int16x2_t)lr_ld32(d1 + k), x1b = (int16x2_t)lr_ld32(d1 + k + 2);
        a00 = __smlad(wa02, x0a, a00);
        a00 = __smlad(wa13, x0b, a00);
        a01 = __smlad(wa02, x1a, a01);
        a01 = __smlad(wa13, x1b, a01);
        a10 = __smlad(wb02, x0a, a10);
        a10 = __smlad(wb13, x0b, a10);
        a11 = __smlad(wb02, x1a, a11);
        a11 = __smlad(wb13, x1b, a11);
    }
#else
    for (; k + 2 <= per; k += 2) {
        const int32_t wa0 = lr_s8(w[k]), wa1 = lr_s8(w[k + 1]), wb0 = lr_s8(w1[k]), wb1 = lr_s8(w1[k + 1]);
        const int32_t x00 = c0[k], x01 = c0[k + 1], x10 = d1[k], x11 = d1[k + 1];
        a00 += wa0 * x00 + wa1 * x01;
        a01 += wa0 * x10 + wa1 * x11;
        a10 += wb0 * x00 + wb1 * x01;
        a11 += wb0 * x10 + wb1 * x11;
    }
#endif
    for (; k < per; k++) {
        const int32_t wa = lr_s8(w[k]), wb = lr_s8(w1[k]);
        a00 += wa * c0[k];
        a01 += wa * d1[k];
        a10 += wb * c0[k];
        a11 += wb * d1[k];
    }
    acc[0][0] = a00;
    acc[0][1] = a01;
    acc[1][0] = a10;
    acc[1][1] = a11;
}

static void depthwise(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int32_t *w, int8_t *y)
{
    const int32_t kk = g->kh * g->kw;
    int32_t o, k;
    for (o = 0; o < g->oc; o++) {
        for (k = 0; k < kk; k++) {
            w[k] = lr_s8(p->w[(size_t)o * (size_t)kk + (size_t)k]);
        }
        lr_conv2d_channel_s8_opt(g, x + (size_t)o * (size_t)(g->h * g->w), w,
                                 p->bias ? lr_lei32(p->bias + 4u * (uint32_t)o) : 0, p->in_offset,
                                 lr_rq_mult(&p->rq, (uint32_t)o), lr_rq_shift(&p->rq, (uint32_t)o), &p->rq,
                                 y + (size_t)o * (size_t)(g->oh * g->ow));
    }
}

void lr_conv2d_s8_opt(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int32_t *scratch, int8_t *y)
{
    const int32_t per = g->cin_g * g->kh * g->kw, npx = g->oh * g->ow;
    int16_t *c0 = (int16_t *)(void *)scratch, *c1 = c0 + per;
    int32_t grp, q, o;
    if (g->cin_g == 1 && g->cout_g == 1) {
        depthwise(g, x, p, scratch, y);
        return;
    }
    for (grp = 0; grp < g->groups; grp++) {
        const int8_t *xg = x + (size_t)(grp * g->cin_g) * (size_t)(g->h * g->w);
        for (q = 0; q < npx; q += 2) {
            const int32_t nq = q + 1 < npx ? 2 : 1;
            lr_opt_im2col(g, xg, q / g->ow, q % g->ow, p->in_offset, per, c0);
            if (nq > 1) {
                lr_opt_im2col(g, xg, (q + 1) / g->ow, (q + 1) % g->ow, p->in_offset, per, c1);
            }
            for (o = grp * g->cout_g; o < (grp + 1) * g->cout_g; o += 2) {
                const int32_t nc = o + 1 < (grp + 1) * g->cout_g ? 2 : 1;
                int32_t acc[2][2], c, j;
                for (c = 0; c < nc; c++) {
                    const int32_t b = p->bias ? lr_opt_lei32(p->bias + 4u * (uint32_t)(o + c)) : 0;
                    acc[c][0] = b;
                    acc[c][1] = b;
                }
                if (nc == 1) {
                    acc[1][0] = 0;
                    acc[1][1] = 0;
                }
                dot(p->w + (size_t)o * (size_t)per, per, nc, c0, c1, nq, acc);
                for (c = 0; c < nc; c++) {
                    const int32_t mult = lr_opt_lei32(p->rq.mult + 4u * (p->rq.n == 1u ? 0u : (uint32_t)(o + c)));
                    const int32_t shift = lr_rq_shift(&p->rq, (uint32_t)(o + c));
                    for (j = 0; j < nq; j++) {
                        y[(size_t)(o + c) * (size_t)npx + (size_t)(q + j)] =
                            lr_requant(acc[c][j], mult, shift, p->rq.zp_out, p->rq.act_min, p->rq.act_max);
                    }
                }
            }
        }
    }
}
