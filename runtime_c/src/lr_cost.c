/*
 * lr_cost.c -- the cost model of a conv op (lr_op_conv_info, mirrored by linrep_edge/costmodel.py),
 * and the path each LinRep conv runs under a path setting (lr_set_conv_path): which ops take the
 * template-reuse kernel, and the scratch that needs. The formulas are in linrep.h (lr_conv_cost).
 */
#include "kernels/lr_kernels.h"

#define BITMAP_BITS 512u

#if defined(__GNUC__)
#define LR_NOINLINE __attribute__((noinline))
#else
#define LR_NOINLINE
#endif

/* acc + a * b, saturating at UINT64_MAX (one out-of-line helper keeps the cost model small). */
static LR_NOINLINE uint64_t madd_sat(uint64_t acc, uint64_t a, uint64_t b)
{
    uint64_t p;
    if (a != 0u && b > UINT64_MAX / a) {
        return UINT64_MAX;
    }
    p = a * b;
    return acc > UINT64_MAX - p ? UINT64_MAX : acc + p;
}

/* (tap, output pixel) pairs of one kernel inside the input: (sum_ky valid rows)(sum_kx valid cols). */
static uint64_t valid_taps(const lr_geom *c)
{
    uint64_t ry = 0u, rx = 0u;
    int32_t t;
    for (t = 0; t < c->kh; t++) {
        const int32_t off = t * c->dh - c->pt;
        const int32_t lo = lr_range_lo(off, c->sh), hi = lr_range_hi(off, c->sh, c->h, c->oh);
        ry += hi > lo ? (uint64_t)(hi - lo) : 0u;
    }
    for (t = 0; t < c->kw; t++) {
        const int32_t off = t * c->dw - c->pl;
        const int32_t lo = lr_range_lo(off, c->sw), hi = lr_range_hi(off, c->sw, c->w, c->ow);
        rx += hi > lo ? (uint64_t)(hi - lo) : 0u;
    }
    return madd_sat(0u, ry, rx);
}

/* U: sum over the groups' input channels of the number of distinct templates their kept kernels use
 * (every kernel without a kernel mask); *kept: the kept kernels. With a mask, a kept kernel's index is
 * at its rank among the kept kernels: the rank of kernel (o, i) is walked from (o - 1, i) over cin_g bits. */
static uint64_t templates_used(const lr_geom *c, const lr_linrep_params *p, uint64_t *kept)
{
    const unsigned char *idx = p->blob + p->lr.idx;
    const unsigned char *mask = p->lr.mask ? p->blob + p->lr.mask : NULL;
    uint32_t bitmap[BITMAP_BITS / 32u];
    uint64_t used = 0u;
    int32_t g, i, o;
    uint32_t base, n, q;
    *kept = 0u;
    for (n = 0u; n < (uint32_t)(c->oc * c->cin_g); n++) {
        *kept += (uint64_t)lr_kept(mask, n);
    }
    for (g = 0; g < c->groups; g++) {
        for (i = 0; i < c->cin_g; i++) {
            for (base = 0u; base < p->k; base += BITMAP_BITS) { /* ceil(K / 512) passes */
                uint32_t rank = 0u, at = 0u;
                memset(bitmap, 0, sizeof bitmap);
                for (o = 0; o < c->cout_g; o++) {
                    uint32_t t;
                    n = (uint32_t)(g * c->cout_g + o) * (uint32_t)c->cin_g + (uint32_t)i;
                    for (q = at; mask != NULL && q < n; q++) {
                        rank += (uint32_t)lr_kept(mask, q);
                    }
                    at = n;
                    if (!lr_kept(mask, n)) {
                        continue;
                    }
                    t = lr_unpack_index(idx, mask != NULL ? rank : n, p->lr.bits) - base;
                    if (t < BITMAP_BITS && (bitmap[t >> 5] & (1u << (t & 31u))) == 0u) {
                        bitmap[t >> 5] |= 1u << (t & 31u);
                        used++;
                    }
                }
            }
        }
    }
    return used;
}

void lr_conv_cost_of(const lr_model *m, const lr_op *op, lr_conv_cost *cost)
{
    lr_geom c;
    lr_linrep_params p;
    uint64_t n, taps, px, kk, u, box, common, kept;
    int32_t th;
    memset(cost, 0, sizeof *cost);
    if (op->type != LR_OP_TYPE_CONV2D && op->type != LR_OP_TYPE_LINREP_CONV2D) {
        return;
    }
    lr_op_geom(m, op, &c);
    n = (uint64_t)c.oc * (uint64_t)c.cin_g; /* verified: <= LR_MAX_NUMEL, as are px and Cout * px */
    px = (uint64_t)c.oh * (uint64_t)c.ow;
    kk = (uint64_t)c.kh * (uint64_t)c.kw;
    taps = valid_taps(&c);
    common = 3u * (uint64_t)c.oc * px; /* zero the output, add the bias */
    cost->kernels = (uint32_t)n;
    cost->path = LR_PATH_DIRECT;
    if (op->type != LR_OP_TYPE_LINREP_CONV2D) {
        cost->direct_macs = madd_sat(0u, n, taps);
        cost->direct_words = madd_sat(common, 3u * n, taps);
        cost->direct_cost = madd_sat(cost->direct_macs, 1u, cost->direct_words);
        return;
    }
    lr_op_linrep_params(m, op, &p);
    cost->direct_macs = madd_sat(n * kk, n, taps);
    cost->direct_words = madd_sat(common + 2u * n * kk, 3u * n, taps);
    cost->direct_cost = madd_sat(cost->direct_macs, 1u, cost->direct_words);
    if (p.lr.mask != 0u && !LR_IS_INT8(m)) {
        return; /* fp32 pruned layers: direct path only (int8 reuse skips pruned kernels) */
    }
    u = templates_used(&c, &p, &kept);
    cost->templates_used = (uint32_t)u; /* u <= n */
    box = madd_sat(0u, (uint64_t)c.c, (uint64_t)c.h * (uint64_t)c.w + 2u * (uint64_t)c.h * (uint64_t)c.ow + px);
    cost->reuse_macs = madd_sat(madd_sat(box, u, taps), 2u * kept, px);
    cost->reuse_words = madd_sat(madd_sat(madd_sat(common + p.k, 3u * u, taps), 4u * kept, px), 2u, box);
    cost->reuse_cost = madd_sat(cost->reuse_macs, 1u, cost->reuse_words);
    if (LR_IS_INT8(m)) { /* int8: one output row at a time, int32 words */
        cost->reuse_scratch_bytes = madd_sat(0u, lr_linrep_conv2d_reuse_s8_scratch(&c, p.k), 4u);
        cost->tile_rows = 1u;
    } else {
        cost->reuse_scratch_bytes = madd_sat(0u, lr_linrep_conv2d_reuse_scratch(&c, p.k, &th), 4u);
        cost->tile_rows = (uint32_t)th;
    }
    if (cost->reuse_cost < cost->direct_cost) {
        cost->path = LR_PATH_REUSE; /* the AUTO choice */
    }
}

/* Whether op runs the reuse kernel under `path`, and its reuse scratch floats (*floats, if so). */
static int runs_reuse(const lr_model *m, const lr_op *op, uint32_t path, uint64_t *floats)
{
    lr_geom c;
    lr_linrep_params p;
    lr_conv_cost cost;
    if (op->type != LR_OP_TYPE_LINREP_CONV2D || path == LR_PATH_DIRECT) {
        return 0;
    }
    lr_op_linrep_params(m, op, &p);
    if (p.lr.mask != 0u && !LR_IS_INT8(m)) {
        return 0; /* fp32 pruned kernels: the direct path, which skips them, even when reuse is forced */
    }
    lr_op_geom(m, op, &c);
    *floats = LR_IS_INT8(m) ? lr_linrep_conv2d_reuse_s8_scratch(&c, p.k)
                                    : lr_linrep_conv2d_reuse_scratch(&c, p.k, NULL);
    if (path == LR_PATH_REUSE) {
        return 1;
    }
    lr_conv_cost_of(m, op, &cost);
    return cost.path == LR_PATH_REUSE && *floats <= LR_MAX_NUMEL; /* AUTO: never fails */
}

int lr_op_runs_reuse(const lr_model *m, const lr_op *op, uint32_t path)
{
    uint64_t floats;
    return runs_reuse(m, op, path, &floats);
}

lr_status lr_reuse_scratch(const lr_model *m, uint32_t path, uint32_t *scratch_floats)
{
    uint32_t k, need = m->direct_scratch;
    for (k = 0; k < m->n_ops && path != LR_PATH_DIRECT; k++) {
        lr_op op;
        uint64_t floats = 0u;
        lr_read_op(m, k, &op);
        if (runs_reuse(m, &op, path, &floats)) {
            if (floats > LR_MAX_NUMEL) {
                return LR_ERR_OVERFLOW;
            }
            if ((uint32_t)floats > need) {
                need = (uint32_t)floats;
            }
        }
    }
    *scratch_floats = need;
    return LR_OK;
}
