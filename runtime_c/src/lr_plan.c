/*
 * lr_plan.c -- tensor lifetimes and the activation memory plan.
 *
 * Lifetime of a tensor: from the op that writes it (the model input: from op 0) to the last op
 * that reads it (the model's outputs, all of them: to the last op). Two tensors whose lifetimes overlap get
 * disjoint buffers; all others may share.
 *
 * Plan: greedy first-fit by decreasing size (ties: lower tensor id first), as TFLite Micro's
 * GreedyMemoryPlanner. Placed buffers are kept in a list sorted by offset; a new buffer goes into
 * the lowest gap between buffers whose lifetimes overlap its own, or after the last of them.
 * Deterministic: lr_init and lr_run compute the same plan. O(T^2) time for T tensors, no memory
 * beyond one 16-byte record per tensor.
 *
 * The run plan: lr_init keeps only the plan's sizes (the model struct has no room for per-tensor
 * data); the first lr_run on an arena (or lr_arena_prepare) plans into the arena head and compacts
 * the result to what running needs, stamped so that later runs on the same arena find it:
 *   word 0          LR_RUN_PLAN_STAMP
 *   word 1          key: FNV-1a of the blob's address, size and CRC-32, the path in force and the
 *                   plan sizes (a plan for another model, or another path setting, never matches)
 *   word 2          FNV-1a of words 0, 1 and 3.. (a plan overwritten by the caller does not match)
 *   words 3..3+T-1  byte offset of each tensor in the activation region
 *   then            ceil(ops / 32) words of per-op bits: bit k set when op k runs the reuse kernel
 * 3 + T + ceil((T - 1) / 32) words fit in the 4 * T words of the region (ops <= T - 1).
 */
#include "lr_internal.h"

#define F_WRITTEN 1u
#define F_PLACED 2u

static uint32_t align_up(uint32_t n)
{
    return (n + (LR_ARENA_ALIGN - 1u)) & ~(LR_ARENA_ALIGN - 1u);
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

/* Lifetimes; checks the op order. */
static lr_status lifetimes(const lr_model *m, lr_plan_entry *e, lr_where *where)
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
        if (e[i].first != LR_NO_OP) {
            e[i].size = align_up(tensor_bytes(m, i));
        }
    }
    return LR_OK;
}

static int overlap(const lr_plan_entry *a, const lr_plan_entry *b)
{
    return a->first <= b->last && b->first <= a->last;
}

static lr_status lower_bound_bytes(const lr_model *m, const lr_plan_entry *e, uint32_t *bytes)
{
    uint32_t k, i, n_steps = m->n_ops > 0u ? m->n_ops : 1u;
    uint64_t best = 0u;
    for (k = 0; k < n_steps; k++) {
        uint64_t live = 0u;
        for (i = 0; i < m->n_tensors; i++) {
            if (e[i].first != LR_NO_OP && e[i].first <= k && k <= e[i].last) {
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

lr_status lr_plan(const lr_model *m, lr_plan_entry *e, uint32_t *act_bytes, uint32_t *lower_bound,
                  lr_where *where)
{
    uint32_t head = LR_NO_OP, total = 0u;
    lr_status s = lifetimes(m, e, where);
    if (s == LR_OK && lower_bound != NULL) {
        s = lower_bound_bytes(m, e, lower_bound);
    }
    while (s == LR_OK) {
        uint32_t i = LR_NO_OP, j, prev = LR_NO_OP, t;
        uint64_t cand = 0u;
        for (t = 0; t < m->n_tensors; t++) { /* largest unplaced buffer, lowest id on ties */
            if (e[t].size != 0u && (e[t].placed & F_PLACED) == 0u && (i == LR_NO_OP || e[t].size > e[i].size)) {
                i = t;
            }
        }
        if (i == LR_NO_OP) {
            break;
        }
        for (j = head; j != LR_NO_OP; j = e[j].next) { /* first fit among overlapping buffers */
            if (overlap(&e[i], &e[j])) {
                if (cand + e[i].size <= e[j].offset) {
                    break;
                }
                if ((uint64_t)e[j].offset + e[j].size > cand) {
                    cand = (uint64_t)e[j].offset + e[j].size;
                }
            }
        }
        if (cand + e[i].size > LR_MAX_BLOB_BYTES) {
            return LR_ERR_OVERFLOW;
        }
        e[i].offset = (uint32_t)cand;
        e[i].placed |= F_PLACED;
        if (e[i].offset + e[i].size > total) {
            total = e[i].offset + e[i].size;
        }
        for (j = head; j != LR_NO_OP && e[j].offset <= e[i].offset; j = e[j].next) {
            prev = j; /* insert after every buffer at a lower or equal offset */
        }
        e[i].next = (uint16_t)j;
        if (prev == LR_NO_OP) {
            head = i;
        } else {
            e[prev].next = (uint16_t)i;
        }
    }
    *act_bytes = total;
    return s;
}

lr_status lr_plan_sizes(const lr_model *m, uint32_t *act_bytes, uint32_t *lower_bound, lr_where *where)
{
    lr_plan_entry e[LR_MAX_TENSORS];
    return lr_plan(m, e, act_bytes, lower_bound, where);
}

#define LR_RUN_PLAN_STAMP 0x4E4C5052u /* "RPLN" */

static uint32_t fnv1a(uint32_t h, uint32_t word)
{
    uint32_t i;
    for (i = 0; i < 4u; i++) {
        h = (h ^ ((word >> (8u * i)) & 0xFFu)) * 16777619u;
    }
    return h;
}

static uint32_t plan_key(const lr_model *m)
{
    const uintptr_t addr = (uintptr_t)m->blob;
    uint32_t h = 2166136261u;
    h = fnv1a(h, (uint32_t)addr);
    h = fnv1a(h, (uint32_t)((addr >> 16) >> 16));
    h = fnv1a(h, m->size);
    h = fnv1a(h, m->crc32);
    h = fnv1a(h, m->conv_path);
    h = fnv1a(h, m->n_tensors);
    h = fnv1a(h, m->act_bytes);
    return fnv1a(h, m->scratch_bytes);
}

static uint32_t plan_check(const lr_model *m, const uint32_t *words)
{
    const uint32_t n = LR_RUN_PLAN_HEAD + m->n_tensors + (m->n_ops + 31u) / 32u;
    uint32_t h = fnv1a(fnv1a(2166136261u, words[0]), words[1]), i;
    for (i = LR_RUN_PLAN_HEAD; i < n; i++) {
        h = fnv1a(h, words[i]);
    }
    return h;
}

int lr_run_plan_valid(const lr_model *m, const uint32_t *words)
{
    return words[0] == LR_RUN_PLAN_STAMP && words[1] == plan_key(m) && words[2] == plan_check(m, words);
}

lr_status lr_run_plan_build(const lr_model *m, uint32_t *words)
{
    lr_plan_entry *e = (lr_plan_entry *)(void *)words;
    uint32_t *bits = words + LR_RUN_PLAN_HEAD + m->n_tensors;
    uint32_t act_bytes, i, k;
    lr_where where;
    if (lr_plan(m, e, &act_bytes, NULL, &where) != LR_OK || act_bytes != m->act_bytes) {
        return LR_ERR_NOT_INITIALIZED; /* the blob changed after lr_init */
    }
    /* Compact in place: word 3 + i takes e[i].offset (word 4 * i); 3 + i <= 4 * i for i >= 1, and
     * for i = 0 word 3 is e[0]'s own; every record is read before its words are overwritten. */
    for (i = 0; i < m->n_tensors; i++) {
        words[LR_RUN_PLAN_HEAD + i] = e[i].offset;
    }
    for (k = 0; k < (m->n_ops + 31u) / 32u; k++) {
        bits[k] = 0u;
    }
    for (k = 0; k < m->n_ops; k++) {
        lr_op op;
        lr_read_op(m, k, &op);
        if (lr_op_runs_reuse(m, &op, m->conv_path)) {
            bits[k >> 5] |= 1u << (k & 31u);
        }
    }
    words[0] = LR_RUN_PLAN_STAMP;
    words[1] = plan_key(m);
    words[2] = plan_check(m, words);
    return LR_OK;
}
