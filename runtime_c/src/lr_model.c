/*
 * lr_model.c -- lr_init (verify everything once, plan the arena) and the model queries.
 */
#include "lr_internal.h"

#if LR_MAX_TENSORS > 65000u || LR_MAX_TENSORS < 1u
#error "LR_MAX_TENSORS must be 1 .. 65000 (planning records hold 16-bit tensor ids)"
#endif
#if LR_MAX_OPS > 65000u
#error "LR_MAX_OPS must be at most 65000 (planning records hold 16-bit op indices)"
#endif

#if LR_PLANNER
static uint32_t align_up(uint32_t n)
{
    return (n + (LR_ARENA_ALIGN - 1u)) & ~(LR_ARENA_ALIGN - 1u);
}
#endif

static uint32_t numel_of(const lr_model *m, int32_t id)
{
    int32_t dims[LR_MAX_RANK];
    uint32_t rank = lr_tensor_shape(m, (uint32_t)id, dims), n = 1u, i;
    for (i = 0; i < rank; i++) {
        n *= (uint32_t)dims[i];
    }
    return n;
}

/* CRC-32 of the blob with the 4 bytes at crc_pos read as zero. */
static uint32_t blob_crc(const unsigned char *b, uint32_t size, uint32_t crc_pos)
{
    static const unsigned char zeros[4] = {0, 0, 0, 0};
    uint32_t crc = lr_crc32_update(0u, b, crc_pos);
    crc = lr_crc32_update(crc, zeros, 4u);
    return lr_crc32_update(crc, b + crc_pos + 4u, size - crc_pos - 4u);
}

#if LR_PLANNER
/* The plan's sizes under `path` and `ram_limit` (lr_plan.c: tensors, then each op's scratch); *m unchanged on
 * error. */
static lr_status set_plan(lr_model *m, uint32_t path, uint32_t ram_limit, lr_where *where)
{
    const uint32_t old_path = m->conv_path, old_limit = m->ram_limit;
    uint32_t act_bytes = 0u, region = 0u, lower = 0u;
    lr_where here;
    lr_status s;
    m->conv_path = path;
    m->ram_limit = ram_limit;
    s = lr_plan_sizes(m, &act_bytes, &region, m->magic == LR_MODEL_MAGIC ? NULL : &lower,
                      where != NULL ? where : &here);
    if (s != LR_OK) {
        m->conv_path = old_path;
        m->ram_limit = old_limit;
        return s;
    }
    if (m->magic != LR_MODEL_MAGIC) {
        m->act_lower_bound = lower; /* lr_init */
    }
    m->act_bytes = act_bytes;
    m->scratch_bytes = region - act_bytes;
    return LR_OK;
}
#endif

static lr_status init(lr_model *m, const unsigned char *b, size_t size, lr_where *where)
{
    uint32_t root, version, crc_pos, scratch_floats, k;
    lr_status s;

    if (size < 8u) {
        return LR_ERR_TRUNCATED;
    }
    if (size > LR_MAX_BLOB_BYTES) {
        return LR_ERR_OVERFLOW;
    }
    if (memcmp(b + 4, LR_FILE_IDENTIFIER, 4) != 0) {
        return LR_ERR_BAD_IDENTIFIER;
    }
    m->blob = b;
    m->size = (uint32_t)size;
    s = lr_verify_root(b, m->size, &root);
    if (s != LR_OK) {
        return s;
    }
    /* The Model table's inline fields are now known to be inside the blob. */
    version = lr_get_u32(b, root, LR_MODEL_FORMAT_VERSION, 0u);
    if (version < 1u || version > LR_FORMAT_VERSION) {
        return LR_ERR_VERSION;
    }
    crc_pos = lr_field(b, root, LR_MODEL_CRC32);
    if (crc_pos == 0u || blob_crc(b, m->size, crc_pos) != lr_le32(b + crc_pos)) {
        return LR_ERR_CRC;
    }
    m->crc32 = lr_le32(b + crc_pos);
    s = lr_verify_structure(b, m->size, root);
    if (s != LR_OK) {
        return s;
    }
    /* From here on the reader may be used. */
    m->root = root;
    m->tensors = lr_get_vec(b, root, LR_MODEL_TENSORS, &m->n_tensors);
    m->ops = lr_get_vec(b, root, LR_MODEL_OPS, &m->n_ops);
    m->codebooks = lr_get_vec(b, root, LR_MODEL_CODEBOOKS, &m->n_codebooks);
    m->input = 0;
    m->output = lr_get_i32(b, root, LR_MODEL_OUTPUT, 0);
    m->outputs = lr_get_vec(b, root, LR_MODEL_OUTPUTS, &m->n_outputs);
    {
        uint32_t n_quant;
        m->tensor_quant = lr_get_vec(b, root, LR_MODEL_TENSOR_QUANT, &n_quant); /* length: verified next */
    }
    s = lr_verify_semantics(m, &scratch_floats, where);
    if (s != LR_OK) {
        return s;
    }
    (void)scratch_floats; /* the verifier's largest figure; the plan sizes each op's own (lr_op_scratch) */
    m->input_len = numel_of(m, m->input);
    m->output_len = 0u;
    for (k = 0; k < lr_output_count_of(m); k++) {
        m->output_len += numel_of(m, lr_output_id(m, k)); /* verified: the total fits */
    }
#if LR_PLANNER
    m->plan_bytes = align_up(4u * lr_run_plan_words(m)); /* verified: ops, tensors <= 65000 */
    /* the RAM limit: int8 models the least arena, fp32 models none (lr_set_ram_limit) */
    return set_plan(m, LR_PATH_AUTO, LR_IS_INT8(m) ? 0u : LR_MAX_BLOB_BYTES, where); /* after verification only */
#else
    return lr_plan_graph(m, &m->act_lower_bound, where); /* the graph's checks; the plan: lr_set_plan */
#endif
}

lr_status lr_init(lr_model *m, const void *blob, size_t size)
{
    lr_where where;
    lr_status s;
    if (m == NULL) {
        return LR_ERR_NULL_ARG;
    }
    memset(m, 0, sizeof *m);
    m->fail_op = -1;
    m->fail_tensor = -1;
    if (blob == NULL) {
        return LR_ERR_NULL_ARG;
    }
    where.op = -1;
    where.tensor = -1;
    s = init(m, (const unsigned char *)blob, size, &where);
    if (s != LR_OK) {
        memset(m, 0, sizeof *m);
        m->fail_op = where.op;
        m->fail_tensor = where.tensor;
        return s;
    }
    m->magic = LR_MODEL_MAGIC;
    return LR_OK;
}

static int ready(const lr_model *m)
{
    return m->magic == LR_MODEL_MAGIC;
}

/* The preamble of every query: LR_ERR_NULL_ARG for a NULL model or answer, LR_ERR_NOT_INITIALIZED
 * before a successful lr_init, LR_OK otherwise. */
static lr_status query_ok(const lr_model *m, const void *answer)
{
    if (m == NULL || answer == NULL) {
        return LR_ERR_NULL_ARG;
    }
    return ready(m) ? LR_OK : LR_ERR_NOT_INITIALIZED;
}

lr_status lr_error_location(const lr_model *m, int32_t *op_index, int32_t *tensor_index)
{
    if (m == NULL || op_index == NULL || tensor_index == NULL) {
        return LR_ERR_NULL_ARG;
    }
    *op_index = m->fail_op;
    *tensor_index = m->fail_tensor;
    return LR_OK;
}

lr_status lr_arena_size(const lr_model *m, size_t *bytes)
{
    lr_status st = query_ok(m, bytes);
    if (st != LR_OK) {
        return st;
    }
    if (!LR_PLANNER && m->plan == NULL) {
        return LR_ERR_BAD_PLAN; /* -DLR_PLANNER=0: the arena is the offline plan's (lr_set_plan) */
    }
    *bytes = (size_t)m->plan_bytes + m->act_bytes + m->scratch_bytes;
    return LR_OK;
}

lr_status lr_activation_lower_bound(const lr_model *m, size_t *bytes)
{
    lr_status st = query_ok(m, bytes);
    if (st != LR_OK) {
        return st;
    }
    *bytes = m->act_lower_bound;
    return LR_OK;
}

static lr_status io_size(const lr_model *m, size_t *elems, int output)
{
    lr_status st = query_ok(m, elems);
    if (st != LR_OK) {
        return st;
    }
    *elems = output ? m->output_len : m->input_len;
    return LR_OK;
}

lr_status lr_input_size(const lr_model *m, size_t *elems)
{
    return io_size(m, elems, 0);
}

lr_status lr_output_size(const lr_model *m, size_t *elems)
{
    return io_size(m, elems, 1);
}

static lr_status io_shape(const lr_model *m, int32_t dims[LR_MAX_RANK], unsigned *rank, int output)
{
    lr_status st = query_ok(m, dims == NULL ? NULL : (const void *)rank);
    if (st != LR_OK) {
        return st;
    }
    *rank = lr_tensor_shape(m, (uint32_t)(output ? m->output : m->input), dims);
    return LR_OK;
}

lr_status lr_input_shape(const lr_model *m, int32_t dims[LR_MAX_RANK], unsigned *rank)
{
    return io_shape(m, dims, rank, 0);
}

lr_status lr_output_shape(const lr_model *m, int32_t dims[LR_MAX_RANK], unsigned *rank)
{
    return io_shape(m, dims, rank, 1);
}

lr_status lr_output_count(const lr_model *m, unsigned *count)
{
    lr_status st = query_ok(m, count);
    if (st != LR_OK) {
        return st;
    }
    *count = lr_output_count_of(m);
    return LR_OK;
}

lr_status lr_output_size_at(const lr_model *m, unsigned index, size_t *elems)
{
    lr_status st = query_ok(m, elems);
    if (st != LR_OK) {
        return st;
    }
    if (index >= lr_output_count_of(m)) {
        return LR_ERR_RANGE;
    }
    *elems = numel_of(m, lr_output_id(m, index));
    return LR_OK;
}

lr_status lr_output_shape_at(const lr_model *m, unsigned index, int32_t dims[LR_MAX_RANK], unsigned *rank)
{
    lr_status st = query_ok(m, dims == NULL ? NULL : (const void *)rank);
    if (st != LR_OK) {
        return st;
    }
    if (index >= lr_output_count_of(m)) {
        return LR_ERR_RANGE;
    }
    *rank = lr_tensor_shape(m, (uint32_t)lr_output_id(m, index), dims);
    return LR_OK;
}

lr_status lr_op_count(const lr_model *m, unsigned *count)
{
    lr_status st = query_ok(m, count);
    if (st != LR_OK) {
        return st;
    }
    *count = m->n_ops;
    return LR_OK;
}

lr_status lr_op_info(const lr_model *m, unsigned op_index, unsigned *type, const char **name)
{
    lr_op op;
    if (m == NULL) {
        return LR_ERR_NULL_ARG;
    }
    if (!ready(m)) {
        return LR_ERR_NOT_INITIALIZED;
    }
    if (op_index >= m->n_ops) {
        return LR_ERR_RANGE;
    }
    lr_read_op(m, op_index, &op);
    if (type != NULL) {
        *type = op.type;
    }
    if (name != NULL) {
        /* a verified string: length, bytes, NUL */
        *name = op.name ? (const char *)(m->blob + op.name + 4u) : "";
    }
    return LR_OK;
}

lr_status lr_set_conv_path(lr_model *m, lr_conv_path path)
{
    if (m == NULL) {
        return LR_ERR_NULL_ARG;
    }
    if (!ready(m)) {
        return LR_ERR_NOT_INITIALIZED;
    }
    if (path != LR_PATH_AUTO && path != LR_PATH_DIRECT && path != LR_PATH_REUSE) {
        return LR_ERR_RANGE;
    }
    if ((path == LR_PATH_DIRECT && !LR_DIRECT_ON) || (path == LR_PATH_REUSE && !LR_REUSE_ON)) {
        return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_LINREP_PATHS) */
    }
#if LR_PLANNER
    return m->plan != NULL ? LR_ERR_UNSUPPORTED_OP /* the offline plan fixes the paths */
                           : set_plan(m, (uint32_t)path, m->ram_limit, NULL);
#else
    return LR_ERR_UNSUPPORTED_OP; /* no planner: the offline plan fixes the paths */
#endif
}

lr_status lr_set_ram_limit(lr_model *m, size_t arena_bytes)
{
    if (m == NULL) {
        return LR_ERR_NULL_ARG;
    }
    if (!ready(m)) {
        return LR_ERR_NOT_INITIALIZED;
    }
#if LR_PLANNER
    if (m->plan != NULL) {
        return LR_ERR_UNSUPPORTED_OP; /* the offline plan fixes the arena */
    }
    return set_plan(m, m->conv_path, arena_bytes > LR_MAX_BLOB_BYTES ? LR_MAX_BLOB_BYTES : (uint32_t)arena_bytes,
                    NULL);
#else
    (void)arena_bytes;
    return LR_ERR_UNSUPPORTED_OP; /* no planner: the offline plan fixes the arena */
#endif
}

lr_status lr_op_conv_info(const lr_model *m, unsigned op_index, lr_conv_cost *info)
{
    lr_op op;
    lr_status st = query_ok(m, info);
    if (st != LR_OK) {
        return st;
    }
    if (op_index >= m->n_ops) {
        return LR_ERR_RANGE;
    }
    lr_read_op(m, op_index, &op);
    lr_conv_cost_of(m, &op, info);
    if (op.type == LR_OP_TYPE_LINREP_CONV2D) {
        int reuse = 0;
        if (m->plan != NULL) { /* the offline plan's bit */
            const uint32_t *bits = m->plan + LR_PLAN_HEAD + m->n_tensors + 2u * m->n_ops;
            reuse = (int)((bits[op_index >> 5] >> (op_index & 31u)) & 1u);
        } else {
#if LR_PLANNER
            uint32_t bytes;
            st = lr_plan_op(m, op_index, &reuse, &bytes); /* the path in the plan: the RAM limit may say direct */
#else
            st = LR_ERR_BAD_PLAN; /* no plan yet */
#endif
        }
        info->path = reuse ? LR_PATH_REUSE : LR_PATH_DIRECT;
    }
    return st;
}

static lr_status quant_of(const lr_model *m, int32_t id, float *scale, int32_t *zero_point)
{
    uint32_t bits = 0u;
    *zero_point = 0;
    if (m->tensor_quant != 0u) {
        bits = lr_quant_scale_bits(m, (uint32_t)id);
        *zero_point = lr_quant_zp(m, (uint32_t)id);
    }
    memcpy(scale, &bits, sizeof *scale); /* the stored bit pattern; 0.0f for an fp32 model */
    return LR_OK;
}

lr_status lr_input_quant(const lr_model *m, float *scale, int32_t *zero_point)
{
    lr_status st = query_ok(m, scale == NULL ? NULL : (const void *)zero_point);
    return st != LR_OK ? st : quant_of(m, m->input, scale, zero_point);
}

lr_status lr_output_quant_at(const lr_model *m, unsigned index, float *scale, int32_t *zero_point)
{
    lr_status st = query_ok(m, scale == NULL ? NULL : (const void *)zero_point);
    if (st != LR_OK) {
        return st;
    }
    if (index >= lr_output_count_of(m)) {
        return LR_ERR_RANGE;
    }
    return quant_of(m, lr_output_id(m, index), scale, zero_point);
}

size_t lr_model_sizeof(void)
{
    return sizeof(lr_model);
}
