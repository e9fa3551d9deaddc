/*
 * lr_linrep_conv2d_reuse_f32_ref.c -- LINREP_CONV2D by template reuse.
 *
 * Convolving input channel i with a * T[t] + b * 1 is a * (x_i * T[t]) + b * boxsum(x_i). So, per
 * group and input channel i:
 *   1. list the distinct templates used by channel i's kernels (one per output channel of the
 *      group) and sort those output channels by template (counting sort);
 *   2. per tile of output rows: the box-sums of x_i (running sums, see box_tile), then for each
 *      template used, its response r = x_i * T[t] on the tile (the direct path's tap loop, its
 *      stride-1 rows unrolled by four), and every output channel o using it adds
 *      a[o][i] * r + b[o][i] * boxsum to its rows (two output channels per pass over r).
 * Outputs start from 0 and get the bias last, as on the direct path; the terms are summed in a
 * different order, so results agree with the direct path up to fp32 rounding, not bit for bit.
 * Layers with a kernel mask never come here (the run path sends them to the direct path).
 *
 * Scratch layout (4-byte units, all computed by reuse_layout_of from the op's geometry and K):
 *   tmpl  K*kk floats     the codebook decoded to fp32 once per op
 *   slot  K int32         template -> position in channel i's list (-1: unused), reset per channel
 *   so    cout_g int32    slot of each output channel's kernel for channel i
 *   order cout_g int32    output channels sorted by slot
 *   start nu+1 int32      bucket starts of order (nu = min(K, cout_g))
 *   tl    nu int32        templates used by channel i, in first-use order
 *   colb  2*ow int32      per output column: first and last valid input column of its window
 *   prow  iw floats       prefix sums of one input row
 *   hrow  rows*ow floats  box-sums along rows of the tile's input rows, then summed down columns
 *   box   th*ow floats    the tile's box-sums
 *   resp  th*ow floats    one template's responses on the tile
 * (In this file the geometry is `c`: `g` counts groups.)
 */
#include "kernels/lr_kernels.h"

/* Output rows per tile: the largest th (1 .. oh) with (2 * th + input rows of th) * ow <= budget. */
static int32_t tile_rows(const lr_geom *c)
{
    /* 32-bit (no 64-bit division linked): the verifier bounds kernel extent and stride by 2^30, f is small */
    const int32_t f = (int32_t)(LR_REUSE_TILE_FLOATS / (uint32_t)c->ow);
    int32_t th = (f - (c->kh - 1) * c->dh - 1 + c->sh) / (c->sh + 2);
    if (th < 1) {
        th = 1;
    }
    return th > c->oh ? c->oh : th;
}

/* Input rows a tile of th output rows reads (at most ih). */
static int64_t tile_in_rows(const lr_geom *c, int32_t th)
{
    int64_t r = (int64_t)(th - 1) * c->sh + (int64_t)(c->kh - 1) * c->dh + 1;
    return r < c->h ? r : c->h;
}

/* Scratch of the reuse path, in 4-byte units, and the offsets of its parts. */
typedef struct reuse_layout {
    uint64_t slot, so, order, start, tl, colb, prow, hrow, box, resp, total;
    int32_t th;
} reuse_layout;

static void reuse_layout_of(const lr_geom *c, uint32_t k, reuse_layout *l)
{
    const uint64_t kk = (uint64_t)c->kh * (uint64_t)c->kw, ow = (uint64_t)c->ow;
    const uint64_t nu = k < (uint32_t)c->cout_g ? k : (uint64_t)c->cout_g;
    l->th = tile_rows(c);
    l->slot = (uint64_t)k * kk;
    l->so = l->slot + k;
    l->order = l->so + (uint64_t)c->cout_g;
    l->start = l->order + (uint64_t)c->cout_g;
    l->tl = l->start + nu + 1u;
    l->colb = l->tl + nu;
    l->prow = l->colb + 2u * ow;
    l->hrow = l->prow + (uint64_t)c->w;
    l->box = l->hrow + (uint64_t)tile_in_rows(c, l->th) * ow;
    l->resp = l->box + (uint64_t)l->th * ow;
    l->total = l->resp + (uint64_t)l->th * ow;
}

uint64_t lr_linrep_conv2d_reuse_scratch(const lr_geom *g, uint32_t k, int32_t *tile_rows_out)
{
    reuse_layout l;
    reuse_layout_of(g, k, &l);
    if (tile_rows_out != NULL) {
        *tile_rows_out = l.th;
    }
    return l.total;
}

/* ---- the reuse path ------------------------------------------------------------------------- */

/*
 * Box-sums of one input channel x for output rows [oy0, oy1): box[oy][ox] = the sum of the inputs
 * under the window of (oy, ox), padding taps skipped. Running sums, no k*k adds per pixel:
 * per input row, prefix sums along each dilation class of columns (prow), two lookups per output
 * column give the row's window sums (hrow); then hrow is summed in place down each dilation class
 * of rows, and two lookups per output pixel give the box-sum.
 */
static void box_tile(const lr_geom *c, const float *x, const int32_t *colb, float *prow, float *hrow,
                     int32_t oy0, int32_t oy1, float *box)
{
    const int32_t ow = c->ow, iw = c->w, dw = c->dw, dh = c->dh;
    int32_t r0 = oy0 * c->sh - c->pt, r1 = (oy1 - 1) * c->sh - c->pt + (c->kh - 1) * dh + 1;
    int32_t r, j, oy;
    r0 = r0 > 0 ? r0 : 0;
    r1 = r1 < c->h ? r1 : c->h;
    for (r = r0; r < r1; r++) {
        const float *xr = x + r * iw;
        float *h = hrow + (r - r0) * ow;
        for (j = 0; j < iw && j < dw; j++) {
            prow[j] = xr[j];
        }
        for (; j < iw; j++) {
            prow[j] = prow[j - dw] + xr[j];
        }
        for (j = 0; j < ow; j++) {
            const int32_t lo = colb[2 * j], hi = colb[2 * j + 1];
            const float top = hi >= 0 ? prow[hi] : 0.0f;
            h[j] = lo - dw >= 0 ? top - prow[lo - dw] : top;
        }
        if (r - dh >= r0) {
            const float *up = h - dh * ow;
            for (j = 0; j < ow; j++) {
                h[j] += up[j];
            }
        }
    }
    for (oy = oy0; oy < oy1; oy++) {
        const int32_t base = oy * c->sh - c->pt;
        float *s = box + (oy - oy0) * ow;
        int32_t lo = lr_range_lo(base, dh), hi;
        hi = c->h - 1 - base < 0 ? -1 : (c->h - 1 - base) / dh;
        hi = hi < c->kh - 1 ? hi : c->kh - 1;
        if (lo > hi) {
            for (j = 0; j < ow; j++) {
                s[j] = 0.0f;
            }
            continue;
        }
        {
            const int32_t rlo = base + lo * dh, rhi = base + hi * dh;
            const float *top = hrow + (rhi - r0) * ow;
            if (rlo - dh >= r0) {
                const float *bot = hrow + (rlo - dh - r0) * ow;
                for (j = 0; j < ow; j++) {
                    s[j] = top[j] - bot[j];
                }
            } else {
                for (j = 0; j < ow; j++) {
                    s[j] = top[j];
                }
            }
        }
    }
}

/* Responses of one input channel x to one template w (kh x kw) on output rows [oy0, oy1). */
static void resp_tile(const lr_geom *c, const float *x, const float *w, int32_t oy0, int32_t oy1, float *y)
{
    const int32_t n = (oy1 - oy0) * c->ow;
    int32_t ky, kx, oy, j;
    for (j = 0; j < n; j++) {
        y[j] = 0.0f;
    }
    for (ky = 0; ky < c->kh; ky++) {
        const int32_t off_y = ky * c->dh - c->pt;
        int32_t a = lr_range_lo(off_y, c->sh), b = lr_range_hi(off_y, c->sh, c->h, c->oh);
        a = a > oy0 ? a : oy0;
        b = b < oy1 ? b : oy1;
        if (a >= b) {
            continue;
        }
        for (kx = 0; kx < c->kw; kx++) {
            const int32_t off_x = kx * c->dw - c->pl;
            const int32_t ox0 = lr_range_lo(off_x, c->sw), ox1 = lr_range_hi(off_x, c->sw, c->w, c->ow);
            const float wv = w[ky * c->kw + kx];
            if (ox0 >= ox1) {
                continue;
            }
            for (oy = a; oy < b; oy++) {
                const float *xr = x + (oy * c->sh + off_y) * c->w + ox0 * c->sw + off_x;
                lr_row_madd_x4_f32(y + (oy - oy0) * c->ow + ox0, xr, ox1 - ox0, c->sw, wv);
            }
        }
    }
}

/* Output rows [oy0, oy0 + n/ow) of one output channel: y += a * r + b * s. */
static void combine(float *restrict y, const float *restrict r, const float *restrict s, int32_t n, float a,
                    float b)
{
    int32_t j;
    for (j = 0; j < n; j++) {
        y[j] += a * r[j] + b * s[j];
    }
}

/* Two output channels using the same template: each response and box-sum value is loaded once. */
static void combine2(float *restrict y0, float *restrict y1, const float *restrict r, const float *restrict s,
                     int32_t n, float a0, float b0, float a1, float b1)
{
    int32_t j;
    for (j = 0; j < n; j++) {
        const float rv = r[j], sv = s[j];
        y0[j] += a0 * rv + b0 * sv;
        y1[j] += a1 * rv + b1 * sv;
    }
}

void lr_linrep_conv2d_reuse_f32_ref(const lr_geom *geom, const float *x, const lr_linrep_params *params,
                                    void *scratch, float *y)
{
    /* Local copies: the compiler then knows the int32 stores into the scratch below leave them alone. */
    const lr_geom cg = *geom;
    const lr_linrep_params pp = *params;
    const lr_geom *const c = &cg;
    const lr_linrep_params *const p = &pp;
    reuse_layout l;
    float *const f = (float *)scratch;
    int32_t *const iv = (int32_t *)scratch;
    const float *tmpl = f;
    int32_t *slot, *so, *order, *start, *tl, *colb;
    float *prow, *hrow, *box, *resp;
    const lr_values bias = p->bias;
    const unsigned char *idx;
    uint32_t t, kk, n_tmpl;
    int32_t g, i, o, j, u, oy0, plane_in, plane_out;

    reuse_layout_of(c, p->k, &l);
    slot = iv + (size_t)l.slot;
    so = iv + (size_t)l.so;
    order = iv + (size_t)l.order;
    start = iv + (size_t)l.start;
    tl = iv + (size_t)l.tl;
    colb = iv + (size_t)l.colb;
    prow = f + (size_t)l.prow;
    hrow = f + (size_t)l.hrow;
    box = f + (size_t)l.box;
    resp = f + (size_t)l.resp;
    kk = (uint32_t)(c->kh * c->kw);
    plane_in = c->h * c->w;
    plane_out = c->oh * c->ow;
    idx = p->blob + p->lr.idx;
    n_tmpl = p->k * kk;
    for (t = 0; t < n_tmpl; t++) {
        f[t] = lr_value(p->tmpl, t); /* fp16 or fp32 in the blob -> fp32, once per op */
    }
    for (t = 0; t < p->k; t++) {
        slot[t] = -1;
    }
    for (j = 0; j < c->ow; j++) { /* first and last valid input column of each output column */
        const int32_t c0 = j * c->sw - c->pl;
        int32_t lo = lr_range_lo(c0, c->dw), hi = c->w - 1 - c0 < 0 ? -1 : (c->w - 1 - c0) / c->dw;
        hi = hi < c->kw - 1 ? hi : c->kw - 1;
        colb[2 * j] = lo > hi ? 0 : c0 + lo * c->dw;
        colb[2 * j + 1] = lo > hi ? -1 : c0 + hi * c->dw;
    }
    for (j = 0; j < c->oc * plane_out; j++) {
        y[j] = 0.0f;
    }
    for (g = 0; g < c->groups; g++) {
        for (i = 0; i < c->cin_g; i++) {
            const float *xi = x + (g * c->cin_g + i) * plane_in;
            int32_t n_used = 0;
            /* 1. templates of channel i, in first-use order; output channels sorted by template */
            for (o = 0; o < c->cout_g; o++) {
                const uint32_t n = (uint32_t)(g * c->cout_g + o) * (uint32_t)c->cin_g + (uint32_t)i;
                const uint32_t tt = lr_unpack_index(idx, n, p->lr.bits);
                if (slot[tt] < 0) {
                    slot[tt] = n_used;
                    tl[n_used++] = (int32_t)tt;
                }
                so[o] = slot[tt];
            }
            for (u = 0; u <= n_used; u++) {
                start[u] = 0;
            }
            for (o = 0; o < c->cout_g; o++) {
                start[so[o] + 1]++;
            }
            for (u = 0; u < n_used; u++) {
                start[u + 1] += start[u];
            }
            for (o = 0; o < c->cout_g; o++) { /* stable: start[s] moves to the end of bucket s */
                order[start[so[o]]++] = o;
            }
            for (u = 0; u < n_used; u++) {
                slot[tl[u]] = -1;
            }
            /* 2. per tile of output rows: box-sums, then each template's responses, combined */
            for (oy0 = 0; oy0 < c->oh; oy0 += l.th) {
                const int32_t oy1 = oy0 + l.th < c->oh ? oy0 + l.th : c->oh;
                const int32_t n_px = (oy1 - oy0) * c->ow;
                box_tile(c, xi, colb, prow, hrow, oy0, oy1, box);
                for (u = 0; u < n_used; u++) {
                    const int32_t first = u == 0 ? 0 : start[u - 1];
                    int32_t q;
                    resp_tile(c, xi, tmpl + (uint32_t)tl[u] * kk, oy0, oy1, resp);
                    for (q = first; q + 1 < start[u]; q += 2) { /* same arithmetic as combine */
                        const int32_t o0 = g * c->cout_g + order[q], o1 = g * c->cout_g + order[q + 1];
                        const uint32_t n0 = (uint32_t)o0 * (uint32_t)c->cin_g + (uint32_t)i;
                        const uint32_t n1 = (uint32_t)o1 * (uint32_t)c->cin_g + (uint32_t)i;
                        float a0, b0, a1, b1;
                        lr_linrep_ab(p->blob, &p->lr, n0, (uint32_t)o0, &a0, &b0);
                        lr_linrep_ab(p->blob, &p->lr, n1, (uint32_t)o1, &a1, &b1);
                        combine2(y + o0 * plane_out + oy0 * c->ow, y + o1 * plane_out + oy0 * c->ow, resp, box,
                                 n_px, a0, b0, a1, b1);
                    }
                    if (q < start[u]) {
                        const int32_t oc = g * c->cout_g + order[q];
                        const uint32_t n = (uint32_t)oc * (uint32_t)c->cin_g + (uint32_t)i;
                        float a, b;
                        lr_linrep_ab(p->blob, &p->lr, n, (uint32_t)oc, &a, &b);
                        combine(y + oc * plane_out + oy0 * c->ow, resp, box, n_px, a, b);
                    }
                }
            }
        }
    }
    if (bias.p != NULL) {
        for (o = 0; o < c->oc; o++) {
            const float bv = lr_value(bias, (uint32_t)o);
            float *yo = y + o * plane_out;
            for (j = 0; j < plane_out; j++) {
                yo[j] += bv;
            }
        }
    }
}
