/*
 * lr_conv2d_channel_s8_opt.c -- one output channel of an int8 conv with int32 kernels (the depthwise
 * conv's and the LinRep direct path's core), equal to lr_conv2d_channel_s8_ref bit for bit. Per output pixel
 * the taps inside the input are found once (their rows and columns: no bounds test per tap, where the reference
 * tests every tap; 5 x 5 and 7 x 7 depthwise convs on small maps are mostly border pixels), and one out-of-line
 * loop (window_dot) sums w * x and w over them:
 *     acc = bias + sum w * x + in_offset * sum(w),
 * the same integer as bias + sum w * (x + in_offset); |in_offset * sum(w)| and every partial sum of
 * w * x stay below 128 * sum |w| (the verifier's bound). The requantisation is lr_opt_requant's.
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

/* The window of one output pixel inside the input: from x (its first tap inside) and w (that tap's weight), `rows`
 * rows of `cols` taps in every input channel. */
typedef struct window {
    int32_t n_ch, ch_x, ch_w; /* input channels, and their strides in x and in w */
    int32_t dw, row_x, row_w; /* tap step in x, row steps in x and in w */
} window;

/* sum over the window's taps of w * x, and of w into *wsum: out of line, so that its loop keeps its values in
 * registers in size-optimised builds too, and one copy serves the interior pixels and the border ones (the taps inside
 * only; their offset term is in_offset times the weights' sum). */
static LR_NOINLINE int32_t window_dot(const int8_t *x, const int32_t *w, int32_t rows, int32_t cols, const window *v,
                                      int32_t *wsum)
{
    const int32_t dw = v->dw;
    int32_t acc = 0, sw = 0, i, r, o, c;
    for (i = 0; i < v->n_ch; i++) {
        for (r = 0; r < rows; r++) {
            const int8_t *xr = x + i * v->ch_x + r * v->row_x;
            const int32_t *wq = w + i * v->ch_w + r * v->row_w;
            if (dw == 1) { /* counted down, pointers stepped: 6 instructions a tap at -Os */
                const int8_t *xq = xr;
                for (c = cols; c > 0; c--) {
                    sw += *wq;
                    acc += *wq++ * (int32_t)*xq++;
                }
            } else {
                for (c = cols, o = 0; c > 0; c--, o += dw) {
                    sw += *wq;
                    acc += *wq++ * (int32_t)xr[o];
                }
            }
        }
    }
    *wsum = sw;
    return acc;
}

/* The taps [*lo, *hi) of one kernel axis that fall inside [0, n) for output position o: tap t reads
 * o * s - p + t * d (the verifier bounds every term by 2^30; int32 division, no 64-bit routine). */
static void inside_taps(int32_t o, int32_t s, int32_t p, int32_t d, int32_t k, int32_t n, int32_t *lo, int32_t *hi)
{
    const int32_t start = o * s - p, last = n - 1 - start;
    *lo = start < 0 ? (d - 1 - start) / d : 0;
    *hi = last < 0 ? 0 : last / d + 1 < k ? last / d + 1 : k;
}

void lr_conv2d_channel_s8_opt(const lr_geom *g, const int8_t *x, const int32_t *w, int32_t bias, int32_t in_offset,
                              int32_t mult, int32_t shift, const lr_requant_s8 *rq, int8_t *y)
{
    const int32_t kk = g->kh * g->kw;
    window v;
    lr_opt_rq r;
    int32_t oy, ox;
    lr_opt_rq_set(&r, mult, shift, rq->zp_out, rq->act_min, rq->act_max);
    v.n_ch = g->cin_g;
    v.ch_x = g->h * g->w;
    v.ch_w = kk;
    v.dw = g->dw;
    v.row_x = g->dh * g->w;
    v.row_w = g->kw;
    for (oy = 0; oy < g->oh; oy++) {
        int32_t ky0, ky1;
        inside_taps(oy, g->sh, g->pt, g->dh, g->kh, g->h, &ky0, &ky1);
        for (ox = 0; ox < g->ow; ox++) {
            int32_t kx0, kx1, acc = bias;
            inside_taps(ox, g->sw, g->pl, g->dw, g->kw, g->w, &kx0, &kx1);
            if (ky0 < ky1 && kx0 < kx1) { /* a row and a column inside (no pointer formed from a tap outside) */
                int32_t wsum;
                acc += window_dot(x + (oy * g->sh - g->pt + ky0 * g->dh) * g->w + (ox * g->sw - g->pl + kx0 * g->dw),
                                  w + ky0 * g->kw + kx0, ky1 - ky0, kx1 - kx0, &v, &wsum);
                acc += in_offset * wsum;
            }
            y[oy * g->ow + ox] = lr_opt_requant(acc, &r);
        }
    }
}
