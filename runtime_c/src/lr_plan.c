/*
 * lr_plan.c -- tensor lifetimes, the activation memory plan and each op's kernel scratch in it.
 *
 * Lifetime of a tensor: from the op that writes it (the model input: from op 0) to the last op
 * that reads it (the model's outputs, all of them: to the last op). Two tensors whose lifetimes overlap get
 * disjoint buffers; all others may share. In int8 models an activation whose input dies at it writes its output
 * over the input (lr_plan_lifetimes marks the output LR_PLAN_ALIAS, the input's lifetime runs on to the output's
 * last reader): the output takes no buffer of its own, and its offset is the input's.
 *
 * Tensors: greedy first-fit by decreasing size (ties: lower tensor id first), as TFLite Micro's
 * GreedyMemoryPlanner. Placed buffers are kept in a list sorted by offset; a new buffer goes into
 * the lowest gap between buffers whose lifetimes overlap its own, or after the last of them.
 *
 * Scratch: each op's kernel scratch is a buffer whose lifetime is that op alone, placed after the tensors
 * in the memory not live during the op (the lowest gap between the tensors live at op k that holds it, or
 * above them). What an op needs comes from lr_op_scratch: the path it runs (the template-reuse kernel's
 * scratch, or the direct / dense kernels' least and preferred sizes: the optimised int8 direct kernel uses
 * bigger blocks of output channels when given more). The region's top is capped by the RAM limit L: first
 * every op's least scratch is placed (top_min: the smallest region the model can run in); L = the larger of
 * top_min and the caller's limit (lr_set_ram_limit; by default int8 models 0, the smallest, fp32 models none).
 * Then each op gets, in order:
 *   - the reuse kernel's scratch if its path is reuse and it fits below L (forced reuse: always); else,
 *     for a kernel that runs on less (the optimised int8 one: smaller tiles, from one output row), the
 *     largest gap below L if it holds that least size; otherwise an AUTO op falls back to the direct path;
 *   - the preferred size if it fits below L; else the largest gap below L if it holds the least size
 *     (rounded down to LR_ARENA_ALIGN); else the least size where it fits (below top_min <= L).
 * Deterministic: lr_init and lr_run compute the same plan. O(T^2) time for T tensors plus O(ops * T) for the
 * scratch, no memory beyond one 16-byte record per tensor: on the stack in lr_init (in a frame sized for the
 * model's tensor count: 16, 64 or LR_MAX_TENSORS records), in the arena's activation region for lr_run.
 *
 * The run plan: lr_init keeps only the plan's sizes (the model struct has no room for per-tensor
 * data); the first lr_run on an arena (or lr_arena_prepare) plans with the records at the start of the
 * activation region and writes the result to the arena head, stamped so that later runs on the same arena
 * find it:
 *   word 0          LR_RUN_PLAN_STAMP
 *   word 1          key: FNV-1a of the blob's address, size and CRC-32, the path in force, the RAM limit
 *                   and the plan sizes (a plan for another model, or another setting, never matches)
 *   word 2          FNV-1a of words 0, 1 and 3.. (a plan overwritten by the caller does not match)
 *   words 3..3+T-1  byte offset of each tensor in the activation region
 *   then            per op: its scratch's byte offset in the activation region and its size in bytes
 *   then            ceil(ops / 32) words of per-op bits: bit k set when op k runs the reuse kernel
 * (lr_model.plan_bytes: those words, rounded up to LR_ARENA_ALIGN; the activation region is at least the
 * T records long.)
 *
 * lr_plan_export writes the same plan as an offline plan (linrep.h's layout: its own head, the region's true top)
 * for a build without this file's planner (-DLR_PLANNER=0), which checks it (lr_plan_check.c, where the
 * lifetimes and the records both stand on live).
 */
#include "lr_internal.h"

#if LR_PLANNER /* -DLR_PLANNER=0: offline plans only (lr_plan_check.c); lr_plan_export refuses */

#if defined(__GNUC__)
#define LR_PLAN_NOINLINE __attribute__((noinline))
#else
#define LR_PLAN_NOINLINE
#endif

#define F_PLACED 2u

static int overlap(const lr_plan_entry *a, const lr_plan_entry *b)
{
    return a->first <= b->last && b->first <= a->last;
}

/* The greedy tensor plan on lifetimes already in e: offsets, the sorted list's head, the top. */
static lr_status place_tensors(const lr_model *m, lr_plan_entry *e, uint32_t *head_out, uint32_t *act_bytes)
{
    uint32_t head = LR_NO_OP, total = 0u, a;
    for (;;) {
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
    for (a = 0; LR_IN_PLACE_OPS != 0u && a < m->n_tensors; a++) { /* in-place outputs: their input's buffer */
        if ((e[a].placed & LR_PLAN_ALIAS) != 0u) {
            e[a].offset = e[e[a].next].offset;
        }
    }
    *head_out = head;
    *act_bytes = total;
    return LR_OK;
}

/* The free runs of the region at op k (between the tensors live at k, in offset order, then above them). */
static int live_at(const lr_plan_entry *e, uint32_t k)
{
    return e->size != 0u && e->first <= k && k <= e->last;
}

/* The lowest offset where `size` bytes are free at op k. */
static uint64_t first_fit(const lr_plan_entry *e, uint32_t head, uint32_t k, uint64_t size)
{
    uint64_t cur = 0u;
    uint32_t j;
    for (j = head; j != LR_NO_OP; j = e[j].next) {
        if (live_at(&e[j], k)) {
            if (cur + size <= e[j].offset) {
                return cur;
            }
            if ((uint64_t)e[j].offset + e[j].size > cur) {
                cur = (uint64_t)e[j].offset + e[j].size;
            }
        }
    }
    return cur;
}

/* The largest free run at op k below `limit` (its length; *at: its offset, the lowest on ties). */
static uint64_t largest_free(const lr_plan_entry *e, uint32_t head, uint32_t k, uint64_t limit, uint64_t *at)
{
    uint64_t cur = 0u, best = 0u;
    uint32_t j;
    *at = 0u;
    for (j = head; j != LR_NO_OP && cur < limit; j = e[j].next) {
        if (live_at(&e[j], k)) {
            const uint64_t end = e[j].offset < limit ? e[j].offset : limit;
            if (end > cur && end - cur > best) {
                best = end - cur;
                *at = cur;
            }
            if ((uint64_t)e[j].offset + e[j].size > cur) {
                cur = (uint64_t)e[j].offset + e[j].size;
            }
        }
    }
    if (limit > cur && limit - cur > best) {
        best = limit - cur;
        *at = cur;
    }
    return best;
}

/* What planning reports besides the sizes: the run plan's per-op words (slots != NULL), one op's choice. */
typedef struct plan_out {
    const uint32_t *prefs; /* per op: bit set when the op takes the reuse kernel if it fits (reuse_prefs) */
    uint32_t *slots;       /* per op: scratch offset, bytes; then the reuse bits (NULL: not wanted; the bits
                              may be prefs: each op's bit is read before it is written) */
    uint32_t query;        /* op whose choice is reported below (LR_NO_OP: none) */
    int query_reuse;
    uint32_t query_bytes;
    uint32_t act_bytes;    /* the tensors' top */
    uint32_t region_bytes; /* the activation region: tensors, scratch, and room for the records */
} plan_out;

/* The scratch of every op (see the file comment); e holds the tensor plan (head: its sorted list). */
static lr_status place_scratch(const lr_model *m, const lr_plan_entry *e, uint32_t head, plan_out *out)
{
    const uint32_t limit_in = m->ram_limit > m->plan_bytes ? m->ram_limit - m->plan_bytes : 0u;
    uint64_t top = out->act_bytes, limit;
    uint32_t k, pass, *bits = out->slots != NULL ? out->slots + 2u * m->n_ops : NULL;
    for (pass = 0; pass < 2u; pass++) {
        limit = top > limit_in ? top : limit_in; /* pass 1: the least sizes gave top = top_min */
        top = out->act_bytes;
        for (k = 0; k < m->n_ops; k++) {
            lr_op op;
            lr_scratch_need n;
            uint64_t size, at;
            int reuse = 0;
            lr_read_op(m, k, &op);
            lr_op_scratch(m, &op, m->conv_path, (int)((out->prefs[k >> 5] >> (k & 31u)) & 1u), &n);
            if (n.reuse > LR_MAX_BLOB_BYTES || n.hi > LR_MAX_BLOB_BYTES) {
                return LR_ERR_OVERFLOW;
            }
            n.reuse = (n.reuse + (LR_ARENA_ALIGN - 1u)) & ~(uint64_t)(LR_ARENA_ALIGN - 1u);
            n.reuse_lo = (n.reuse_lo + (LR_ARENA_ALIGN - 1u)) & ~(uint64_t)(LR_ARENA_ALIGN - 1u);
            n.lo = (n.lo + (LR_ARENA_ALIGN - 1u)) & ~(uint64_t)(LR_ARENA_ALIGN - 1u);
            n.hi = (n.hi + (LR_ARENA_ALIGN - 1u)) & ~(uint64_t)(LR_ARENA_ALIGN - 1u);
            size = 0u;
            at = 0u;
            if (n.reuse != 0u && (n.must_reuse || (pass == 1u && first_fit(e, head, k, n.reuse) + n.reuse <= limit))) {
                reuse = 1;
                size = n.reuse;
                at = first_fit(e, head, k, size);
            } else if (n.reuse_lo != 0u && n.reuse_lo < n.reuse && pass == 1u) {
                /* the reuse kernel on less scratch (smaller tiles): the largest gap below L, if it holds the least */
                size = largest_free(e, head, k, limit, &at) & ~(uint64_t)(LR_ARENA_ALIGN - 1u);
                reuse = size >= n.reuse_lo;
                size = reuse ? (size < n.reuse ? size : n.reuse) : 0u;
            }
            if (reuse) {
                /* placed above */
            } else if (pass == 0u) {
                size = n.lo;
                at = first_fit(e, head, k, size);
            } else {
                size = n.hi;
                at = first_fit(e, head, k, size);
                if (at + size > limit) {
                    size = largest_free(e, head, k, limit, &at) & ~(uint64_t)(LR_ARENA_ALIGN - 1u);
                    if (size < n.lo) {
                        size = n.lo;
                        at = first_fit(e, head, k, size);
                    } else if (size > n.hi) {
                        size = n.hi;
                    }
                }
            }
            if (size == 0u) {
                at = 0u;
            }
            if (at + size > LR_MAX_BLOB_BYTES) {
                return LR_ERR_OVERFLOW;
            }
            top = at + size > top ? at + size : top;
            if (pass == 1u && out->slots != NULL) {
                out->slots[2u * k] = (uint32_t)at;
                out->slots[2u * k + 1u] = (uint32_t)size;
                bits[k >> 5] = (bits[k >> 5] & ~(1u << (k & 31u))) | ((uint32_t)reuse << (k & 31u));
            }
            if (pass == 1u && k == out->query) {
                out->query_reuse = reuse;
                out->query_bytes = (uint32_t)size;
            }
        }
    }
    {
        const uint64_t records = ((uint64_t)m->n_tensors * sizeof(lr_plan_entry) + (LR_ARENA_ALIGN - 1u)) &
                                 ~(uint64_t)(LR_ARENA_ALIGN - 1u);
        top = top > records ? top : records; /* lr_run plans with the records in the region */
    }
    if (top + m->plan_bytes > LR_MAX_BLOB_BYTES) {
        return LR_ERR_OVERFLOW;
    }
    out->region_bytes = (uint32_t)top;
    return LR_OK;
}

/* What plan_all is asked for: the lower bound (if not NULL), where the graph fails, the plan's figures. */
typedef struct plan_ctx {
    uint32_t *lower;
    lr_where *where;
    plan_out *out;
} plan_ctx;

/* Lifetimes, tensors, scratch into c->out, on records e (room for every tensor); an lr_records_fn, so that
 * lr_with_records calls it with no frame between (a plan_ctx rather than five arguments: fewer bytes of stack at
 * the RAM peak of lr_init). Not inlined: one copy for the frame sizes of lr_with_records. */
static LR_PLAN_NOINLINE lr_status plan_all(const lr_model *m, lr_plan_entry *e, void *ctx)
{
    const plan_ctx *c = (const plan_ctx *)ctx;
    uint32_t head;
    lr_status s = lr_plan_lifetimes(m, e, c->where);
    if (s == LR_OK && c->lower != NULL) {
        s = lr_plan_lower_bound(m, e, c->lower);
    }
    if (s == LR_OK) {
        s = place_tensors(m, e, &head, &c->out->act_bytes);
    }
    return s == LR_OK ? place_scratch(m, e, head, c->out) : s;
}

/* Each op's path preference (lr_op_prefers_reuse: the cost model, deep on the stack) as bits, before the
 * records are on it. */
static LR_PLAN_NOINLINE void reuse_prefs(const lr_model *m, uint32_t *bits)
{
    uint32_t k;
    for (k = 0; k < (m->n_ops + 31u) / 32u; k++) {
        bits[k] = 0u;
    }
    for (k = 0; LR_OP_ON(LR_OP_TYPE_LINREP_CONV2D) && k < m->n_ops; k++) { /* only LinRep convs take reuse */
        lr_op op;
        lr_read_op(m, k, &op);
        bits[k >> 5] |= (uint32_t)lr_op_prefers_reuse(m, &op, m->conv_path) << (k & 31u);
    }
}

/* The plan with its records on the stack: the preferences first (ops < tensors <= LR_MAX_TENSORS). */
static lr_status plan_on_stack(const lr_model *m, uint32_t *lower, lr_where *where, plan_out *out)
{
    uint32_t prefs[(LR_MAX_TENSORS + 31u) / 32u];
    plan_ctx c;
    reuse_prefs(m, prefs);
    out->prefs = prefs;
    c.lower = lower;
    c.where = where;
    c.out = out;
    return lr_with_records(m, plan_all, &c);
}

uint32_t lr_run_plan_words(const lr_model *m)
{
    return lr_plan_words_of(m) - LR_PLAN_HEAD + LR_RUN_PLAN_HEAD; /* the same words after their own head */
}

lr_status lr_plan_sizes(const lr_model *m, uint32_t *act_bytes, uint32_t *region_bytes, uint32_t *lower_bound,
                        lr_where *where)
{
    plan_out out;
    lr_status s;
    memset(&out, 0, sizeof out);
    out.query = LR_NO_OP;
    s = plan_on_stack(m, lower_bound, where, &out);
    *act_bytes = out.act_bytes;
    *region_bytes = out.region_bytes;
    return s;
}

lr_status lr_plan_op(const lr_model *m, uint32_t k, int *reuse, uint32_t *scratch_bytes)
{
    plan_out out;
    lr_where where;
    lr_status s;
    memset(&out, 0, sizeof out);
    out.query = k;
    s = plan_on_stack(m, NULL, &where, &out);
    *reuse = out.query_reuse;
    *scratch_bytes = out.query_bytes;
    return s;
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
    h = fnv1a(h, m->ram_limit);
    h = fnv1a(h, m->n_tensors);
    h = fnv1a(h, m->act_bytes);
    return fnv1a(h, m->scratch_bytes);
}

static uint32_t plan_check(const lr_model *m, const uint32_t *words)
{
    const uint32_t n = lr_run_plan_words(m);
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
    /* the records at the start of the activation region (free until the run), the result at the head */
    lr_plan_entry *e = (lr_plan_entry *)(void *)((unsigned char *)words + m->plan_bytes);
    plan_out out;
    plan_ctx c;
    lr_where where;
    uint32_t i;
    memset(&out, 0, sizeof out);
    out.query = LR_NO_OP;
    out.slots = words + LR_RUN_PLAN_HEAD + m->n_tensors;
    reuse_prefs(m, out.slots + 2u * m->n_ops); /* into the run plan's bits, which the plan then sets */
    out.prefs = out.slots + 2u * m->n_ops;
    c.lower = NULL;
    c.where = &where;
    c.out = &out;
    if (plan_all(m, e, &c) != LR_OK || out.act_bytes != m->act_bytes ||
        out.region_bytes != m->act_bytes + m->scratch_bytes) {
        return LR_ERR_NOT_INITIALIZED; /* the blob changed after lr_init */
    }
    for (i = 0; i < m->n_tensors; i++) {
        words[LR_RUN_PLAN_HEAD + i] = e[i].offset;
    }
    words[0] = LR_RUN_PLAN_STAMP;
    words[1] = plan_key(m);
    words[2] = plan_check(m, words);
    return LR_OK;
}

lr_status lr_plan_export(const lr_model *m, void *arena, size_t arena_bytes, uint32_t *plan, size_t plan_capacity,
                         size_t *plan_words)
{
    const uint32_t n = m != NULL ? lr_plan_words_of(m) : 0u;
    uint32_t *words, i, top = 0u;
    lr_plan_entry *e;
    lr_where where;
    lr_status s;
    if (m == NULL || plan_words == NULL || (plan != NULL && arena == NULL)) {
        return LR_ERR_NULL_ARG;
    }
    if (m->magic != LR_MODEL_MAGIC) {
        return LR_ERR_NOT_INITIALIZED;
    }
    *plan_words = n;
    if (plan == NULL) {
        return LR_OK; /* the size, asked before the work */
    }
    if (plan_capacity < n) {
        return LR_ERR_RANGE;
    }
    if (m->plan != NULL) {
        memcpy(plan, m->plan, 4u * (size_t)n); /* running on an offline plan already */
        return LR_OK;
    }
    s = lr_arena_prepare(m, arena, arena_bytes); /* the run plan at the aligned arena head */
    if (s != LR_OK) {
        return s;
    }
    words = lr_arena_head(m, arena, arena_bytes); /* not NULL: lr_arena_prepare took the arena */
    memcpy(plan + LR_PLAN_HEAD, words + LR_RUN_PLAN_HEAD, 4u * (size_t)(n - LR_PLAN_HEAD));
    e = (lr_plan_entry *)(void *)((unsigned char *)words + m->plan_bytes); /* the region: free before a run */
    if (lr_plan_lifetimes(m, e, &where) != LR_OK) {
        return LR_ERR_NOT_INITIALIZED; /* the blob changed after lr_init */
    }
    for (i = 0; i < m->n_tensors; i++) { /* the region's top: the used tensors', then the scratch's */
        const uint32_t end = e[i].size != 0u ? plan[LR_PLAN_HEAD + i] + e[i].size : 0u;
        top = end > top ? end : top;
    }
    for (i = 0; i < m->n_ops; i++) {
        const uint32_t *slot = plan + LR_PLAN_HEAD + m->n_tensors + 2u * i;
        top = slot[1] != 0u && slot[0] + slot[1] > top ? slot[0] + slot[1] : top;
    }
    plan[0] = LR_PLAN_MAGIC;
    plan[1] = m->crc32;
    plan[2] = m->n_tensors;
    plan[3] = m->n_ops;
    plan[4] = (top + (LR_ARENA_ALIGN - 1u)) & ~(LR_ARENA_ALIGN - 1u);
    return LR_OK;
}

#else /* !LR_PLANNER */

lr_status lr_plan_export(const lr_model *m, void *arena, size_t arena_bytes, uint32_t *plan, size_t plan_capacity,
                         size_t *plan_words)
{
    (void)m;
    (void)arena;
    (void)arena_bytes;
    (void)plan;
    (void)plan_capacity;
    (void)plan_words;
    return LR_ERR_UNSUPPORTED_OP; /* no planner in this build */
}

#endif /* LR_PLANNER */
