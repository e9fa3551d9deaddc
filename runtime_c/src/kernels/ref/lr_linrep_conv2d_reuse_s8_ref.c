/*
 * lr_linrep_conv2d_reuse_s8_ref.c -- LINREP_CONV2D of an int8 model, template reuse (docs/INTEGER.md
 * section 3), in tiles of whole output rows. For input channel i the tile's input rows are copied once into a
 * band of int16 values x + in_offset with the padding as 0 (a padding tap then adds nothing: the direct path's
 * "in-bounds taps only"); the box sum S(p) = sum_k band[p + k] is computed once, and for each template j its
 * output channels use, the response R(p) = sum_k t_q[j][k] * band[p + k] once (both as row multiply-adds
 * over the output columns: a 3 x 3 kernel's nine taps per pixel in one pass, other kernels a row's taps three
 * at a time; no per-tap bounds checks). Every output channel o using j then adds
 * a_q * 2^max(0, -e) * R + b_q * 2^max(0, e) * S: each such term is sum_k W[o, i, k] * (x + in_offset), so it
 * and every partial sum fit int32 (the verifier's bound); the two products, which alone may not, are formed
 * modulo 2^32 (uint32), which gives the term's exact low 32 bits, i.e. the term. The same exact integer acc as the direct path, hence the same int8 output. The output
 * channels sharing a template are found through one list per template (head / next), built per input channel
 * and tile in O(cout_g), and each kernel's index and a/b are unpacked once per tile.
 *
 * With a kernel mask, pruned kernels add nothing; a kept kernel's index and a/b are at its rank among the kept
 * kernels: pos[o] holds it for kernel (o, i), starting at the rank of (o, 0) (base[o]).
 *
 * Scratch (int32 words): head [k], base, pos, tj, next [cout_g] each (the fixed part), then per tile of th
 * output rows: acc [cout_g][th * ow], R [th * ow], S [th * ow], and the band: int16 [band rows][wp] with
 * band rows = (th - 1) * sh + (kh - 1) * dh + 1 and wp = (ow - 1) * sw + (kw - 1) * dw + 1. Any scratch
 * from one output row's up runs; more gives taller tiles (fewer passes over the indices and a/b).
 */
#include "kernels/lr_kernels.h"

/* Input rows of a tile of th output rows, and the band's row length. */
static uint64_t band_rows(const lr_geom *g, uint64_t th)
{
    return (th - 1u) * (uint64_t)g->sh + (uint64_t)(g->kh - 1) * (uint64_t)g->dh + 1u;
}

static uint64_t band_width(const lr_geom *g)
{
    return (uint64_t)(g->ow - 1) * (uint64_t)g->sw + (uint64_t)(g->kw - 1) * (uint64_t)g->dw + 1u;
}

/* Words of the fixed part and of a tile of th output rows. */
static uint64_t fixed_words(const lr_geom *g, uint32_t k)
{
    return (uint64_t)k + 4u * (uint64_t)g->cout_g;
}

static uint64_t tile_words(const lr_geom *g, uint64_t th)
{
    const uint64_t px = th * (uint64_t)g->ow;
    return ((uint64_t)g->cout_g + 2u) * px + (band_rows(g, th) * band_width(g) + 1u) / 2u;
}

uint64_t lr_linrep_conv2d_reuse_s8_ref_scratch_min(const lr_geom *g, uint32_t k)
{
    return fixed_words(g, k) + tile_words(g, 1u);
}

uint64_t lr_linrep_conv2d_reuse_s8_ref_scratch(const lr_geom *g, uint32_t k)
{
    uint32_t th = (LR_REUSE_S8_TILE_PX + (uint32_t)g->ow - 1u) / (uint32_t)g->ow; /* ow <= LR_MAX_NUMEL */
    th = th < (uint32_t)g->oh ? th : (uint32_t)g->oh;
    return fixed_words(g, k) + tile_words(g, th);
}

/* The band of input channel xc for output rows [oy0, oy0 + rows): input row oy0 * sh - pt + r, column j - pl
 * at band[r * wp + j], as x + in_offset; 0 outside the input. */
static void fill_band(const lr_geom *g, const int8_t *xc, int32_t oy0, int32_t rows, int32_t in_offset,
                      int16_t *band)
{
    const int32_t wp = (int32_t)band_width(g), nr = (int32_t)band_rows(g, (uint64_t)rows);
    const int32_t jlo = g->pl < wp ? g->pl : wp, jhi = g->pl + g->w < wp ? g->pl + g->w : wp;
    int32_t r, j;
    for (r = 0; r < nr; r++) {
        const int32_t iy = oy0 * g->sh - g->pt + r;
        int16_t *b = band + r * wp;
        if (iy < 0 || iy >= g->h) {
            for (j = 0; j < wp; j++) {
                b[j] = 0;
            }
            continue;
        }
        for (j = 0; j < jlo; j++) {
            b[j] = 0;
        }
        for (j = jlo; j < jhi; j++) {
            b[j] = (int16_t)((int32_t)xc[iy * g->w + j - g->pl] + in_offset);
        }
        for (j = jhi; j < wp; j++) {
            b[j] = 0;
        }
    }
}

/* out[r][ox] = sum over taps (ky, kx) of t[ky][kx] * band[(r * sh + ky * dh) * wp + ox * sw + kx * dw] for the
 * tile's rows: the template t (int8), or every tap 1 (t NULL: the box sum). 3 x 3 kernels take all nine taps
 * of a pixel in one pass; other shapes go by kernel rows, three taps per pass over the row, then one. */
static void tile_response(const lr_geom *g, const int16_t *band, int32_t rows, const unsigned char *t, int32_t *out)
{
    const int32_t wp = (int32_t)band_width(g), ow = g->ow, sw = g->sw, dw = g->dw, dhw = g->dh * wp;
    int32_t r, ky, kx, j, w[9];
    if (g->kh == 3 && g->kw == 3) {
        for (j = 0; j < 9; j++) {
            w[j] = t != NULL ? lr_s8(t[j]) : 1;
        }
        for (r = 0; r < rows; r++) {
            const int16_t *b = band + r * g->sh * wp;
            int32_t *o = out + r * ow;
            for (j = 0; j < ow; j++) {
                const int16_t *p0 = b + j * sw, *p1 = p0 + dhw, *p2 = p1 + dhw;
                o[j] = w[0] * p0[0] + w[1] * p0[dw] + w[2] * p0[2 * dw] + w[3] * p1[0] + w[4] * p1[dw] +
                       w[5] * p1[2 * dw] + w[6] * p2[0] + w[7] * p2[dw] + w[8] * p2[2 * dw];
            }
        }
        return;
    }
    for (j = 0; j < rows * ow; j++) {
        out[j] = 0;
    }
    for (r = 0; r < rows; r++) {
        int32_t *o = out + r * ow;
        for (ky = 0; ky < g->kh; ky++) {
            const int16_t *b = band + (r * g->sh + ky * g->dh) * wp;
            const unsigned char *tr = t != NULL ? t + ky * g->kw : NULL;
            for (kx = 0; kx + 3 <= g->kw; kx += 3) {
                lr_row_madd3_s16(o, b + kx * dw, ow, sw, dw, tr != NULL ? lr_s8(tr[kx]) : 1,
                                 tr != NULL ? lr_s8(tr[kx + 1]) : 1, tr != NULL ? lr_s8(tr[kx + 2]) : 1);
            }
            for (; kx < g->kw; kx++) {
                lr_row_madd_s16(o, b + kx * dw, ow, sw, tr != NULL ? lr_s8(tr[kx]) : 1);
            }
        }
    }
}

/* The low 32 bits of u as a signed integer (two's complement, without implementation-defined conversion). */
static int32_t wrap_s32(uint32_t u)
{
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : (int32_t)(u - (uint32_t)INT32_MAX - 1u) + INT32_MIN;
}

void lr_linrep_conv2d_reuse_s8_ref_n(const lr_geom *g, const int8_t *x, const lr_linrep_s8_params *p,
                                     int32_t *scratch, uint32_t words, int8_t *y)
{
    const int32_t kk = g->kh * g->kw, cg = g->cout_g;
    const unsigned char *mask = p->lr.mask ? p->blob + p->lr.mask : NULL;
    const unsigned char *idx = p->blob + p->lr.idx, *abq = p->blob + p->lr.abq;
    int32_t *head = scratch, *base = head + p->k, *pos = base + cg, *tj = pos + cg, *next = tj + cg;
    int32_t *acc = next + cg, *r, *s;
    int16_t *band;
    int32_t th = 1, grp, oy0, rows, i, o, q, n;
    uint32_t t;
    if ((uint64_t)words < lr_linrep_conv2d_reuse_s8_ref_scratch_min(g, p->k)) {
        return; /* the caller sized the scratch (lr_op_scratch): never taken */
    }
    while (th < g->oh && fixed_words(g, p->k) + tile_words(g, (uint64_t)th + 1u) <= (uint64_t)words) {
        th++;
    }
    r = acc + cg * th * g->ow;
    s = r + th * g->ow;
    band = (int16_t *)(void *)(s + th * g->ow);
    for (t = 0u; t < p->k; t++) {
        head[t] = -1; /* no output channel listed for template t; reset after each use */
    }
    for (grp = 0; grp < g->groups; grp++) {
        uint32_t rank = 0u, m;
        for (m = 0u; m < (uint32_t)(grp * cg * g->cin_g); m++) {
            rank += (uint32_t)lr_kept(mask, m);
        }
        for (o = 0; o < cg; o++) { /* rank of kernel (o, 0) */
            base[o] = (int32_t)rank;
            for (i = 0; i < g->cin_g; i++) {
                rank += (uint32_t)lr_kept(mask, (uint32_t)((grp * cg + o) * g->cin_g + i));
            }
        }
        for (oy0 = 0; oy0 < g->oh; oy0 += th) {
            const int32_t px = (g->oh - oy0 < th ? g->oh - oy0 : th) * g->ow;
            rows = px / g->ow;
            for (o = 0; o < cg; o++) {
                const int32_t bias = p->bias ? lr_lei32(p->bias + 4u * (uint32_t)(grp * cg + o)) : 0;
                for (n = 0; n < px; n++) {
                    acc[o * px + n] = bias;
                }
                pos[o] = base[o];
            }
            for (i = 0; i < g->cin_g; i++) {
                fill_band(g, x + (size_t)(grp * g->cin_g + i) * (size_t)(g->h * g->w), oy0, rows, p->in_offset, band);
                tile_response(g, band, rows, NULL, s);
                for (o = cg - 1; o >= 0; o--) { /* lists of the output channels per template, lowest o first */
                    const uint32_t kn = (uint32_t)((grp * cg + o) * g->cin_g + i);
                    tj[o] = -1;
                    if (lr_kept(mask, kn)) {
                        tj[o] = (int32_t)lr_unpack_index(idx, (uint32_t)pos[o], p->lr.bits);
                        next[o] = head[tj[o]];
                        head[tj[o]] = o;
                    }
                }
                for (o = 0; o < cg; o++) {
                    if (tj[o] < 0 || head[tj[o]] != o) {
                        continue; /* pruned, or its template's response was added with the first channel using it */
                    }
                    tile_response(g, band, rows, p->tmpl + (size_t)kk * (uint32_t)tj[o], r);
                    for (q = o; q >= 0; q = next[q]) { /* every output channel that uses this template here */
                        const int32_t e = lr_s8(p->bexp[grp * cg + q]);
                        /* a' R + b' S fits int32 though a' R alone may not: formed modulo 2^32 (exact for the
                         * low 32 bits, which are the whole result) */
                        const uint32_t a = (uint32_t)lr_unpack_signed(abq, 2u * (uint32_t)pos[q], p->lr.ab_bits)
                                           << (e < 0 ? -e : 0);
                        const uint32_t b = (uint32_t)lr_unpack_signed(abq, 2u * (uint32_t)pos[q] + 1u, p->lr.ab_bits)
                                           << (e > 0 ? e : 0);
                        int32_t *aq = acc + q * px;
                        for (n = 0; n < px; n++) {
                            aq[n] = wrap_s32((uint32_t)aq[n] + a * (uint32_t)r[n] + b * (uint32_t)s[n]);
                        }
                    }
                    head[tj[o]] = -1;
                }
                for (o = 0; o < cg; o++) {
                    pos[o] += tj[o] >= 0;
                }
            }
            for (o = 0; o < cg; o++) {
                const int32_t oc = grp * cg + o;
                const int32_t mult = lr_rq_mult(&p->rq, (uint32_t)oc), shift = lr_rq_shift(&p->rq, (uint32_t)oc);
                int8_t *yo = y + ((size_t)oc * (size_t)g->oh + (size_t)oy0) * (size_t)g->ow;
                for (n = 0; n < px; n++) {
                    yo[n] = lr_requant(acc[o * px + n], mult, shift, p->rq.zp_out, p->rq.act_min, p->rq.act_max);
                }
            }
        }
    }
}

void lr_linrep_conv2d_reuse_s8_ref(const lr_geom *g, const int8_t *x, const lr_linrep_s8_params *p,
                                   int32_t *scratch, int8_t *y)
{
    lr_linrep_conv2d_reuse_s8_ref_n(g, x, p, scratch, (uint32_t)lr_linrep_conv2d_reuse_s8_ref_scratch(g, p->k), y);
}
