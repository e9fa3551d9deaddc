/*
 * lr_plan_check.c -- what the planner (lr_plan.c) and an offline plan both stand on: tensor lifetimes (the
 * graph's checks), the activation lower bound, planning records on the stack; and the offline plan itself
 * (linrep.h: LR_PLAN_MAGIC's layout): lr_set_plan checks one against the model and runs on it.
 *
 * Rules of a plan (lr_plan_check), each what a run reads from it:
 *   - its length, magic, tensor and op counts are the model's and its CRC-32 word the blob's;
 *   - the region is a multiple of LR_ARENA_ALIGN and at most LR_MAX_BLOB_BYTES;
 *   - every tensor an op uses lies in the region at an aligned offset, and two tensors whose lifetimes overlap
 *     (the planner's rule: lr_plan_lifetimes) do not share a byte;
 *   - op k's scratch lies in the region at an aligned offset, shares no byte with a tensor live at op k, and
 *     holds at least the least its kernel takes (lr_op_scratch, rounded up to LR_ARENA_ALIGN, on the path of
 *     its bit). More is allowed: every kernel takes what it can use of the words it is given (tiles, blocks,
 *     tables), and what it prefers may differ between builds of the same runtime (-Os leaves out the
 *     shape-specific fast paths, LR_OPT_FAST, whose padded planes a -O2 build's plan makes room for);
 *   - the reuse bit is set only on LinRep convs the reuse kernel can run in this build (lr_op_can_reuse), and
 *     a LinRep conv without it needs the direct path compiled in (LR_LINREP_PATHS).
 * A plan that passes gives every buffer and scratch room of its own inside the arena: lr_run's kernels then read
 * and write only there, as with the runtime's own plan, with the same results (the kernels are exact whatever
 * scratch they get beyond their least).
 */
#include "lr_internal.h"

#if defined(__GNUC__)
#define LR_RECORDS_NOINLINE __attribute__((noinline))
#else
#define LR_RECORDS_NOINLINE
#endif

#define F_WRITTEN 1u

static uint32_t align_up(uint64_t n)
{
    return (uint32_t)((n + (LR_ARENA_ALIGN - 1u)) & ~(uint64_t)(LR_ARENA_ALIGN - 1u));
}

static uint32_t tensor_bytes(const lr_model *m, uint32_t id)
{
    int32_t dims[LR_MAX_RANK];
    uint32_t rank = lr_tensor_shape(m, id, dims);
    uint32_t n = m->tensor_quant != 0u ? 1u : 4u, i; /* int8 models: one byte per element */
    for (i = 0; i < rank; i++) {
        n *= (uint32_t)dims[i]; /* verified: numel <= LR_MAX_NUMEL */
    }
    return n;
}

/* In-place activations: op k's output shares its input's buffer when the input dies at k (not the model input,
 * no model output; of the same shape, verified). The buffer's tensor (an alias's own, for a chain of them) lives on to the
 * output's last reader; the output is marked LR_PLAN_ALIAS, size 0, next that tensor. */
static void alias_in_place(const lr_model *m, lr_plan_entry *e)
{
    uint32_t k, i;
    for (k = 0; k < m->n_ops; k++) {
        lr_op op;
        uint32_t id, root;
        lr_read_op(m, k, &op);
        if (op.type >= 32u || ((LR_IN_PLACE_OPS >> op.type) & 1u) == 0u || op.n_inputs != 1u) { /* in this build */
            continue;
        }
        id = (uint32_t)lr_op_input(m, &op, 0u);
        root = (e[id].placed & LR_PLAN_ALIAS) != 0u ? e[id].next : id;
        if (e[id].last != k || id == (uint32_t)m->input || e[op.output].size > e[root].size) { /* (verified: equal) */
            continue;
        }
        for (i = 0; i < lr_output_count_of(m) && lr_output_id(m, i) != (int32_t)id; i++) {
        }
        if (i < lr_output_count_of(m)) {
            continue; /* a model output: read after the last op */
        }
        e[root].last = e[op.output].last;
        e[op.output].placed = LR_PLAN_ALIAS;
        e[op.output].next = (uint16_t)root;
        e[op.output].size = 0u;
    }
}

lr_status lr_plan_lifetimes(const lr_model *m, lr_plan_entry *e, lr_where *where)
{
    uint32_t i, k;
    for (i = 0; i < m->n_tensors; i++) {
        e[i].offset = 0u;
        e[i].size = 0u;
        e[i].first = LR_NO_OP;
        e[i].last = LR_NO_OP;
        e[i].next = LR_NO_OP;
        e[i].placed = 0u;
    }
    e[m->input].first = 0u;
    e[m->input].last = 0u;
    e[m->input].placed = F_WRITTEN;
    for (k = 0; k < m->n_ops; k++) {
        lr_op op;
        lr_read_op(m, k, &op);
        for (i = 0; i < op.n_inputs; i++) {
            int32_t id = lr_op_input(m, &op, i);
            if ((e[id].placed & F_WRITTEN) == 0u) {
                where->op = (int32_t)k; /* read before written (or never written) */
                where->tensor = id;
                return LR_ERR_BAD_GRAPH;
            }
            e[id].last = (uint16_t)k;
        }
        if ((e[op.output].placed & F_WRITTEN) != 0u) {
            where->op = (int32_t)k; /* written twice, or the model input overwritten */
            where->tensor = op.output;
            return LR_ERR_BAD_GRAPH;
        }
        e[op.output].placed = F_WRITTEN;
        e[op.output].first = (uint16_t)k;
        e[op.output].last = (uint16_t)k;
    }
    for (i = 0; i < lr_output_count_of(m); i++) { /* every output stays live to the end */
        const int32_t id = lr_output_id(m, i);
        if ((e[id].placed & F_WRITTEN) == 0u) {
            where->tensor = id; /* the output is never written */
            return LR_ERR_BAD_GRAPH;
        }
        e[id].last = (uint16_t)(m->n_ops > 0u ? m->n_ops - 1u : 0u);
    }
    for (i = 0; i < m->n_tensors; i++) {
        e[i].placed = 0u; /* the planner's flags start afresh */
        if (e[i].first != LR_NO_OP) {
            e[i].size = align_up(tensor_bytes(m, i));
        }
    }
    if (LR_IN_PLACE_OPS != 0u && LR_IS_INT8(m)) {
        alias_in_place(m, e);
    }
    return LR_OK;
}

lr_status lr_plan_lower_bound(const lr_model *m, const lr_plan_entry *e, uint32_t *bytes)
{
    uint32_t k, i, n_steps = m->n_ops > 0u ? m->n_ops : 1u;
    uint64_t best = 0u;
    for (k = 0; k < n_steps; k++) {
        uint64_t live = 0u;
        for (i = 0; i < m->n_tensors; i++) {
            if (e[i].size != 0u && e[i].first <= k && k <= e[i].last) { /* an alias: in its tensor's bytes */
                live += tensor_bytes(m, i);
            }
        }
        if (live > best) {
            best = live;
        }
    }
    if (best > LR_MAX_BLOB_BYTES) {
        return LR_ERR_OVERFLOW;
    }
    *bytes = (uint32_t)best;
    return LR_OK;
}

/* Records in a frame sized for the model: small models take little stack. */
#define LR_RECORDS_TIER1 (LR_MAX_TENSORS < 16u ? LR_MAX_TENSORS : 16u)
#define LR_RECORDS_TIER2 (LR_MAX_TENSORS < 64u ? LR_MAX_TENSORS : 64u)

static LR_RECORDS_NOINLINE lr_status records_tier1(const lr_model *m, lr_records_fn fn, void *ctx)
{
    lr_plan_entry e[LR_RECORDS_TIER1];
    return fn(m, e, ctx);
}

static LR_RECORDS_NOINLINE lr_status records_tier2(const lr_model *m, lr_records_fn fn, void *ctx)
{
    lr_plan_entry e[LR_RECORDS_TIER2];
    return fn(m, e, ctx);
}

static LR_RECORDS_NOINLINE lr_status records_tier3(const lr_model *m, lr_records_fn fn, void *ctx)
{
    lr_plan_entry e[LR_MAX_TENSORS];
    return fn(m, e, ctx);
}

lr_status lr_with_records(const lr_model *m, lr_records_fn fn, void *ctx)
{
    if (m->n_tensors <= LR_RECORDS_TIER1) {
        return records_tier1(m, fn, ctx);
    }
    return m->n_tensors <= LR_RECORDS_TIER2 ? records_tier2(m, fn, ctx) : records_tier3(m, fn, ctx);
}

typedef struct graph_ctx {
    uint32_t *lower_bound;
    lr_where *where;
} graph_ctx;

static lr_status graph_on(const lr_model *m, lr_plan_entry *e, void *ctx)
{
    graph_ctx *g = (graph_ctx *)ctx;
    lr_status s = lr_plan_lifetimes(m, e, g->where);
    return s == LR_OK ? lr_plan_lower_bound(m, e, g->lower_bound) : s;
}

lr_status lr_plan_graph(const lr_model *m, uint32_t *lower_bound, lr_where *where)
{
    graph_ctx g;
    g.lower_bound = lower_bound;
    g.where = where;
    return lr_with_records(m, graph_on, &g);
}

uint32_t lr_plan_words_of(const lr_model *m)
{
    return LR_PLAN_HEAD + m->n_tensors + 2u * m->n_ops + (m->n_ops + 31u) / 32u;
}

static int disjoint(uint32_t a, uint32_t a_bytes, uint32_t b, uint32_t b_bytes)
{
    return (uint64_t)a + a_bytes <= b || (uint64_t)b + b_bytes <= a;
}

typedef struct check_ctx {
    const uint32_t *plan;
} check_ctx;

/* The rules of the file comment that need the lifetimes; the header's are checked by lr_plan_check. */
static lr_status check_on(const lr_model *m, lr_plan_entry *e, void *ctx)
{
    const uint32_t *plan = ((const check_ctx *)ctx)->plan;
    const uint32_t region = plan[4];
    const uint32_t *off = plan + LR_PLAN_HEAD, *slots = off + m->n_tensors, *bits = slots + 2u * m->n_ops;
    lr_where where;
    uint32_t i, j, k;
    if (lr_plan_lifetimes(m, e, &where) != LR_OK) {
        return LR_ERR_BAD_PLAN; /* not after a successful lr_init */
    }
    for (i = 0; i < m->n_tensors; i++) {
        if (LR_IN_PLACE_OPS != 0u && (e[i].placed & LR_PLAN_ALIAS) != 0u && off[i] != off[e[i].next]) {
            return LR_ERR_BAD_PLAN; /* an activation run in place must write over its input */
        }
        if (e[i].size == 0u) {
            continue; /* no op uses it, or an alias */
        }
        if ((off[i] & (LR_ARENA_ALIGN - 1u)) != 0u || (uint64_t)off[i] + e[i].size > region) {
            return LR_ERR_BAD_PLAN;
        }
        for (j = 0; j < i; j++) {
            if (e[j].size != 0u && e[i].first <= e[j].last && e[j].first <= e[i].last &&
                !disjoint(off[i], e[i].size, off[j], e[j].size)) {
                return LR_ERR_BAD_PLAN; /* two buffers live at once share bytes */
            }
        }
    }
    for (k = 0; k < m->n_ops; k++) {
        const uint32_t at = slots[2u * k], size = slots[2u * k + 1u];
        const int reuse = (int)((bits[k >> 5] >> (k & 31u)) & 1u);
        uint64_t lo;
        lr_op op;
        lr_scratch_need n;
        lr_read_op(m, k, &op);
        if (reuse ? !lr_op_can_reuse(m, &op) : (op.type == LR_OP_TYPE_LINREP_CONV2D && !LR_DIRECT_ON)) {
            return LR_ERR_BAD_PLAN; /* a path this op cannot take in this build */
        }
        lr_op_scratch(m, &op, reuse ? LR_PATH_REUSE : LR_PATH_DIRECT, reuse, &n);
        lo = reuse ? (n.reuse_lo != 0u ? n.reuse_lo : n.reuse) : n.lo;
        if (lo > LR_MAX_BLOB_BYTES || size < align_up(lo) || (at & (LR_ARENA_ALIGN - 1u)) != 0u ||
            (uint64_t)at + size > region) {
            return LR_ERR_BAD_PLAN;
        }
        for (i = 0; i < m->n_tensors && size != 0u; i++) {
            if (e[i].size != 0u && e[i].first <= k && k <= e[i].last && !disjoint(at, size, off[i], e[i].size)) {
                return LR_ERR_BAD_PLAN; /* the scratch overwrites a tensor live during the op */
            }
        }
    }
    return LR_OK;
}

lr_status lr_plan_check(const lr_model *m, const uint32_t *plan, size_t plan_words)
{
    check_ctx c;
    if (plan_words != lr_plan_words_of(m) || plan[0] != LR_PLAN_MAGIC || plan[1] != m->crc32 ||
        plan[2] != m->n_tensors || plan[3] != m->n_ops || (plan[4] & (LR_ARENA_ALIGN - 1u)) != 0u ||
        plan[4] > LR_MAX_BLOB_BYTES) {
        return LR_ERR_BAD_PLAN;
    }
    c.plan = plan;
    return lr_with_records(m, check_on, &c);
}

lr_status lr_set_plan(lr_model *m, const uint32_t *plan, size_t plan_words)
{
    lr_status s;
    if (m == NULL || plan == NULL) {
        return LR_ERR_NULL_ARG;
    }
    if (m->magic != LR_MODEL_MAGIC) {
        return LR_ERR_NOT_INITIALIZED;
    }
    s = lr_plan_check(m, plan, plan_words);
    if (s != LR_OK) {
        return s;
    }
    m->plan = plan;
    m->plan_bytes = 0u; /* the plan is the caller's: the arena holds the activation region only */
    m->act_bytes = plan[4];
    m->scratch_bytes = 0u;
    return LR_OK;
}
