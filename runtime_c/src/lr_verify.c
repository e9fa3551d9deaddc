/*
 * lr_verify.c -- the verifier: the only code that looks at untrusted bytes.
 *
 * lr_verify_root / lr_verify_structure check the FlatBuffers structure (flatcc-style: every
 * table, vtable, field, vector and string reachable from the root lies inside the buffer, aligned,
 * with lengths that fit), driven by a description of the schema's tables below.
 * lr_verify_semantics then reads the now well-formed blob with the reader (lr_read.c) and checks
 * values: shapes, dtypes, sizes, indices, op parameters and each op's output shape.
 *
 * FlatBuffers layout recap (all little-endian): the buffer starts with a uint32 offset to the root
 * table and the 4-byte file identifier. A table starts with an int32 soffset: its vtable sits at
 * table - soffset. A vtable is uint16 [vtable bytes, table inline bytes, field offsets...]; field i
 * is at table + entry i (0: absent, the schema default applies). An offset field holds a uint32
 * relative to its own position, pointing forward to a table, a vector (uint32 length, then the
 * elements) or a string (a vector of bytes followed by a NUL).
 */
#include "lr_internal.h"

/* ---------------------------------------------------------------------------------------------- */
/* Structure                                                                                      */
/* ---------------------------------------------------------------------------------------------- */

enum field_kind {
    K_U8,        /* ubyte, bool, enum */
    K_4,         /* int32, uint32, float */
    K_STRING,
    K_VEC1,      /* vector of 1-byte scalars */
    K_VEC2,      /* vector of 2-byte scalars */
    K_VEC4,      /* vector of 4-byte scalars */
    K_TABLE,
    K_VEC_TABLE,
    K_2,         /* int16, uint16 */
    K_VEC_SHAPE, /* vector of Shape structs (LR_SHAPE_SIZE bytes, 4-aligned) */
    K_VEC_QUANT  /* vector of TensorQuant structs (LR_TENSOR_QUANT_SIZE bytes, 4-aligned) */
};

struct table_desc;

typedef struct field_desc {
    uint8_t slot;
    uint8_t kind;
    const struct table_desc *sub; /* K_TABLE / K_VEC_TABLE: the referenced table type */
} field_desc;

typedef struct table_desc {
    const field_desc *fields;
    uint32_t n_fields;
} table_desc;

#define N_FIELDS(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

static const field_desc codebook_fields[] = {
    {LR_CODEBOOK_KERNEL_H, K_4, NULL},
    {LR_CODEBOOK_KERNEL_W, K_4, NULL},
    {LR_CODEBOOK_SIZE, K_4, NULL},
    {LR_CODEBOOK_DTYPE, K_U8, NULL},
    {LR_CODEBOOK_F32, K_VEC4, NULL},
    {LR_CODEBOOK_F16, K_VEC2, NULL},
    {LR_CODEBOOK_I8, K_VEC1, NULL},
    {LR_CODEBOOK_SCALE, K_4, NULL},
};
static const table_desc codebook_desc = {codebook_fields, N_FIELDS(codebook_fields)};
/* a build without LinRep ops (LR_LINREP_ON 0) checks codebook tables' headers only, and then refuses them */
static const table_desc no_fields_desc = {NULL, 0u};

static const field_desc op_fields[] = {
    {LR_OP_TYPE, K_U8, NULL},
    {LR_OP_INPUTS, K_VEC4, NULL},
    {LR_OP_ACTIVATION, K_U8, NULL},
    {LR_OP_KERNEL_H, K_2, NULL},
    {LR_OP_KERNEL_W, K_2, NULL},
    {LR_OP_PAD_TOP, K_2, NULL},
    {LR_OP_PAD_LEFT, K_2, NULL},
    {LR_OP_PAD_BOTTOM, K_2, NULL},
    {LR_OP_PAD_RIGHT, K_2, NULL},
    {LR_OP_STRIDE_H, K_2, NULL},
    {LR_OP_STRIDE_W, K_2, NULL},
    {LR_OP_CODEBOOK, K_4, NULL},
    {LR_OP_INDEX_BITS, K_U8, NULL},
    {LR_OP_INDICES, K_VEC1, NULL},
    {LR_OP_AB, K_VEC2, NULL},
    {LR_OP_BIAS_F32, K_VEC4, NULL},
    {LR_OP_NAME, K_STRING, NULL},
    {LR_OP_DTYPE, K_U8, NULL},
    {LR_OP_WEIGHT_F32, K_VEC4, NULL},
    {LR_OP_WEIGHT_F16, K_VEC2, NULL},
    {LR_OP_BIAS_F16, K_VEC2, NULL},
    {LR_OP_GROUPS, K_4, NULL},
    {LR_OP_DILATION_H, K_2, NULL},
    {LR_OP_DILATION_W, K_2, NULL},
    {LR_OP_COUNT_INCLUDE_PAD, K_U8, NULL},
    {LR_OP_ALPHA, K_4, NULL},
    {LR_OP_AB_BITS, K_U8, NULL},
    {LR_OP_AB_Q, K_VEC1, NULL},
    {LR_OP_A_SCALE, K_VEC4, NULL},
    {LR_OP_B_SCALE, K_VEC4, NULL},
    {LR_OP_WEIGHT_I8, K_VEC1, NULL},
    {LR_OP_WEIGHT_SCALE, K_VEC4, NULL},
    {LR_OP_KERNEL_MASK, K_VEC1, NULL},
    {LR_OP_BETA, K_4, NULL},
    {LR_OP_MODE, K_U8, NULL},
    {LR_OP_START, K_4, NULL},
    {LR_OP_BIAS_I32, K_VEC4, NULL},
    {LR_OP_MULTIPLIER, K_VEC4, NULL},
    {LR_OP_SHIFT, K_VEC1, NULL},
    {LR_OP_ACT_MIN, K_U8, NULL},
    {LR_OP_ACT_MAX, K_U8, NULL},
    {LR_OP_B_EXPONENT, K_VEC1, NULL},
    {LR_OP_QPARAMS, K_VEC4, NULL},
};
static const table_desc op_desc = {op_fields, N_FIELDS(op_fields)};

static const field_desc model_fields[] = {
    {LR_MODEL_CRC32, K_4, NULL},
    {LR_MODEL_FORMAT_VERSION, K_4, NULL},
    {LR_MODEL_PRODUCER, K_STRING, NULL},
    {LR_MODEL_TENSORS, K_VEC_SHAPE, NULL},
    {LR_MODEL_OUTPUT, K_4, NULL},
    {LR_MODEL_OPS, K_VEC_TABLE, &op_desc},
    {LR_MODEL_CODEBOOKS, K_VEC_TABLE, LR_LINREP_ON ? &codebook_desc : &no_fields_desc},
    {LR_MODEL_METADATA, K_STRING, NULL},
    {LR_MODEL_OUTPUTS, K_VEC4, NULL},
    {LR_MODEL_TENSOR_QUANT, K_VEC_QUANT, NULL},
};
static const table_desc model_desc = {model_fields, N_FIELDS(model_fields)};

/* The buffer being verified. */
typedef struct vbuf {
    const unsigned char *b;
    uint32_t size;
} vbuf;

/* A table whose header and vtable were checked. */
typedef struct vtab {
    uint32_t t;     /* table position */
    uint32_t vt;    /* vtable position */
    uint32_t vsize; /* vtable bytes */
    uint32_t tsize; /* table inline bytes */
} vtab;

/* Table at t: soffset inside, vtable inside and well-formed, inline bytes inside. */
static lr_status check_table(const vbuf *v, uint32_t t, vtab *out)
{
    uint32_t so;
    int64_t vt;
    if (t > v->size || v->size - t < 4u) {
        return LR_ERR_OUT_OF_BOUNDS;
    }
    if ((t & 3u) != 0u) {
        return LR_ERR_BAD_TABLE;
    }
    so = lr_le32(v->b + t);
    vt = (int64_t)t - (int64_t)lr_as_i32(so);
    if (vt < 0 || vt > (int64_t)v->size - 4) {
        return LR_ERR_OUT_OF_BOUNDS;
    }
    out->t = t;
    out->vt = (uint32_t)vt;
    if ((out->vt & 1u) != 0u) {
        return LR_ERR_BAD_TABLE;
    }
    out->vsize = lr_le16(v->b + out->vt);
    out->tsize = lr_le16(v->b + out->vt + 2u);
    if (out->vsize < 4u || (out->vsize & 1u) != 0u || out->tsize < 4u) {
        return LR_ERR_BAD_TABLE;
    }
    if (out->vsize > v->size - out->vt || out->tsize > v->size - t) {
        return LR_ERR_OUT_OF_BOUNDS;
    }
    return LR_OK;
}

/* Offset of field `slot` inside the table (0: absent); checks `width` bytes fit the table. */
static lr_status field_offset(const vbuf *v, const vtab *tab, uint32_t slot, uint32_t width,
                              uint32_t *fo)
{
    uint32_t entry = 4u + 2u * slot;
    *fo = 0u;
    if (entry + 2u > tab->vsize) {
        return LR_OK; /* beyond the vtable: absent */
    }
    *fo = lr_le16(v->b + tab->vt + entry);
    if (*fo != 0u && (*fo < 4u || *fo > tab->tsize || tab->tsize - *fo < width)) {
        return LR_ERR_BAD_TABLE;
    }
    return LR_OK;
}

/* An offset field at position p: aligned, pointing forward inside the buffer with 4 bytes there. */
static lr_status follow(const vbuf *v, uint32_t p, uint32_t *target)
{
    uint32_t u;
    if ((p & 3u) != 0u) {
        return LR_ERR_BAD_TABLE;
    }
    u = lr_le32(v->b + p);
    if (u == 0u || u > v->size - p || v->size - p - u < 4u) {
        return LR_ERR_OUT_OF_BOUNDS;
    }
    *target = p + u;
    return LR_OK;
}

/* A vector at `vec` of n elements of `elem` bytes (plus a NUL for strings) inside the buffer. */
static lr_status check_vector(const vbuf *v, uint32_t vec, uint32_t elem, int is_string, uint32_t *n)
{
    uint64_t bytes;
    if ((vec & 3u) != 0u) {
        return LR_ERR_BAD_VECTOR;
    }
    *n = lr_le32(v->b + vec);
    bytes = (uint64_t)*n * elem + (is_string ? 1u : 0u);
    if (bytes > (uint64_t)(v->size - vec - 4u)) {
        return LR_ERR_BAD_VECTOR;
    }
    if (is_string && v->b[vec + 4u + *n] != 0u) {
        return LR_ERR_BAD_VECTOR;
    }
    return LR_OK;
}

static lr_status verify_table(const vbuf *v, uint32_t t, const table_desc *d, int deep);

static lr_status verify_field(const vbuf *v, const vtab *tab, const field_desc *f, int deep)
{
    static const uint8_t vec_elem[] = {0, 0, 1, 1, 2, 4, 0, 4, 0, LR_SHAPE_SIZE, LR_TENSOR_QUANT_SIZE}; /* by kind */
    uint32_t width = f->kind == K_U8 ? 1u : f->kind == K_2 ? 2u : 4u;
    uint32_t fo, target, n, i;
    lr_status s = field_offset(v, tab, f->slot, width, &fo);
    if (s != LR_OK || fo == 0u || f->kind == K_U8 || f->kind == K_2 || f->kind == K_4) {
        return s;
    }
    if (!deep) {
        return LR_OK;
    }
    s = follow(v, tab->t + fo, &target);
    if (s != LR_OK) {
        return s;
    }
    if (f->kind == K_TABLE) {
        return verify_table(v, target, f->sub, deep);
    }
    s = check_vector(v, target, vec_elem[f->kind], f->kind == K_STRING, &n);
    if (s != LR_OK || f->kind != K_VEC_TABLE) {
        return s;
    }
    for (i = 0; i < n; i++) {
        uint32_t elem;
        s = follow(v, target + 4u + 4u * i, &elem);
        if (s == LR_OK) {
            s = verify_table(v, elem, f->sub, deep);
        }
        if (s != LR_OK) {
            return s;
        }
    }
    return LR_OK;
}

/* Recursion depth is bounded by the schema: Model -> Op / Codebook. */
static lr_status verify_table(const vbuf *v, uint32_t t, const table_desc *d, int deep)
{
    vtab tab;
    uint32_t i;
    lr_status s = check_table(v, t, &tab);
    for (i = 0; s == LR_OK && i < d->n_fields; i++) {
        s = verify_field(v, &tab, &d->fields[i], deep);
    }
    return s;
}

lr_status lr_verify_root(const unsigned char *b, uint32_t size, uint32_t *root)
{
    vbuf v;
    v.b = b;
    v.size = size;
    *root = lr_le32(b);
    if (*root > size || size - *root < 4u) {
        return LR_ERR_TRUNCATED;
    }
    return verify_table(&v, *root, &model_desc, 0);
}

lr_status lr_verify_structure(const unsigned char *b, uint32_t size, uint32_t root)
{
    vbuf v;
    v.b = b;
    v.size = size;
    return verify_table(&v, root, &model_desc, 1);
}

/* ---------------------------------------------------------------------------------------------- */
/* Semantics                                                                                      */
/* ---------------------------------------------------------------------------------------------- */

/* Element count of dims[0..rank-1], or 0 if rank is outside 1..LR_MAX_RANK (rank_min 0 allows a
 * scalar), a dimension is < 1 or the count exceeds LR_MAX_NUMEL. */
static uint32_t checked_numel(uint32_t rank, uint32_t rank_min, const int32_t *dims)
{
    uint64_t n = 1u;
    uint32_t i;
    if (rank < rank_min || rank > LR_MAX_RANK) {
        return 0u;
    }
    for (i = 0; i < rank; i++) {
        if (dims[i] < 1) {
            return 0u;
        }
        n *= (uint64_t)dims[i];
        if (n > LR_MAX_NUMEL) {
            return 0u;
        }
    }
    return (uint32_t)n;
}

/* Shape structs: [c, h, w] with every dim >= 1, or a flat [F] with h = w = 0. */
static lr_status verify_tensors(const lr_model *m, lr_where *where)
{
    uint32_t i;
    for (i = 0; i < m->n_tensors; i++) {
        const unsigned char *p = m->blob + m->tensors + LR_SHAPE_SIZE * i;
        int32_t dims[3];
        dims[0] = lr_lei32(p + LR_SHAPE_C_OFFSET);
        dims[1] = (int32_t)lr_le16(p + LR_SHAPE_H_OFFSET);
        dims[2] = (int32_t)lr_le16(p + LR_SHAPE_W_OFFSET);
        if (dims[1] == 0 && dims[2] == 0 ? checked_numel(1u, 1u, dims) == 0u : checked_numel(3u, 3u, dims) == 0u) {
            where->tensor = (int32_t)i;
            return LR_ERR_BAD_TENSOR;
        }
    }
    return LR_OK;
}

/*
 * Model.outputs (format version 3), when present: 1 .. LR_MAX_TENSORS entries (LR_ERR_TOO_MANY beyond),
 * each a tensor some op writes (1 .. n_tensors - 1: not the input), the first equal to Model.output;
 * their element counts together at most LR_MAX_NUMEL (LR_ERR_OVERFLOW). An entry may repeat.
 */
static lr_status verify_outputs(const lr_model *m, lr_where *where)
{
    uint64_t total = 0u;
    uint32_t i;
    if (m->outputs == 0u) {
        return LR_OK;
    }
    if (m->n_outputs > LR_MAX_TENSORS) {
        return LR_ERR_TOO_MANY;
    }
    if (m->n_outputs == 0u || lr_output_id(m, 0u) != m->output) {
        return LR_ERR_BAD_GRAPH;
    }
    for (i = 0; i < m->n_outputs; i++) {
        const int32_t id = lr_output_id(m, i);
        int32_t dims[LR_MAX_RANK];
        uint32_t rank, n = 1u, j;
        if (id < 1 || (uint32_t)id >= m->n_tensors) {
            where->tensor = id;
            return LR_ERR_BAD_GRAPH;
        }
        rank = lr_tensor_shape(m, (uint32_t)id, dims);
        for (j = 0; j < rank; j++) {
            n *= (uint32_t)dims[j]; /* verified tensor: fits */
        }
        total += n;
    }
    return total > LR_MAX_NUMEL ? LR_ERR_OVERFLOW : LR_OK;
}

static lr_status verify_codebooks(const lr_model *m)
{
    uint32_t i;
    for (i = 0; i < m->n_codebooks; i++) {
        lr_codebook cb;
        int32_t dims[3];
        uint32_t numel;
        lr_read_codebook(m, i, &cb);
        dims[0] = cb.k;
        dims[1] = cb.kh;
        dims[2] = cb.kw;
        numel = checked_numel(3u, 3u, dims);
        if (numel == 0u || cb.k > 65536) {
            return LR_ERR_BAD_CODEBOOK;
        }
        if (cb.v4 && m->tensor_quant == 0u) {
            return LR_ERR_BAD_CODEBOOK; /* int8 templates in an fp32 model */
        }
        if (cb.dtype == LR_DTYPE_I8) { /* format version 4: int8 models only */
            if (cb.n_i8 != numel || cb.n_f32 != 0u || cb.n_f16 != 0u || cb.f32 != 0u || cb.f16 != 0u) {
                return LR_ERR_BAD_CODEBOOK;
            }
        } else if (cb.i8 != 0u) {
            return LR_ERR_BAD_CODEBOOK;
        } else if (cb.dtype == LR_DTYPE_F32) {
            if (cb.n_f32 != numel || cb.n_f16 != 0u) {
                return LR_ERR_BAD_CODEBOOK;
            }
        } else if (cb.dtype == LR_DTYPE_F16) {
            if (cb.n_f16 != numel || cb.n_f32 != 0u) {
                return LR_ERR_BAD_CODEBOOK;
            }
        } else {
            return LR_ERR_BAD_CODEBOOK;
        }
    }
    return LR_OK;
}

/* A tensor shape: rank and dims (rank 0 marks "not computed"). */
typedef struct shape {
    uint32_t rank;
    int32_t d[LR_MAX_RANK];
} shape;

static void get_shape(const lr_model *m, int32_t id, shape *s)
{
    s->rank = lr_tensor_shape(m, (uint32_t)id, s->d);
}

static int same_shape(const shape *a, const shape *b)
{
    uint32_t i;
    if (a->rank != b->rank) {
        return 0;
    }
    for (i = 0; i < a->rank; i++) {
        if (a->d[i] != b->d[i]) {
            return 0;
        }
    }
    return 1;
}

static uint32_t shape_numel(const shape *s)
{
    uint32_t n = 1u, i;
    for (i = 0; i < s->rank; i++) {
        n *= (uint32_t)s->d[i]; /* tensors were checked: fits */
    }
    return n;
}

static void set3(shape *s, int64_t c, int64_t h, int64_t w)
{
    s->rank = 3u;
    s->d[0] = (int32_t)c;
    s->d[1] = (int32_t)h;
    s->d[2] = (int32_t)w;
}

/*
 * The op's dense weight / bias storage: `dtype` is F32, F16 or I8 and only that dtype's vectors are
 * present (I8: int8 weights with 1 or out_ch fp32 scales, fp32 bias); the weight holds exactly
 * n_weight values (0: none allowed, -1: 1 or `alt` values, never int8) and the bias is absent or
 * holds n_bias values (present and empty is refused: the kernels read a present bias in full).
 */
static lr_status check_tensors_of(const lr_op *op, int64_t n_weight, uint32_t alt, int32_t n_bias)
{
    uint32_t nw, nb, other;
    if (op->dtype == LR_DTYPE_F32) {
        nw = op->n_w32;
        nb = op->n_b32;
        other = op->n_w16 + op->n_b16 + (op->w16 != 0u) + (op->b16 != 0u);
    } else if (op->dtype == LR_DTYPE_F16) {
        nw = op->n_w16;
        nb = op->n_b16;
        other = op->n_w32 + op->n_b32 + (op->w32 != 0u) + (op->b32 != 0u);
    } else if (op->dtype == LR_DTYPE_I8 && n_weight > 0) {
        nw = op->n_w8;
        nb = op->n_b32;
        other = op->n_w32 + op->n_w16 + op->n_b16 + (op->w32 != 0u) + (op->w16 != 0u) + (op->b16 != 0u);
        if (op->n_ws != 1u && op->n_ws != (uint32_t)op->out_ch) {
            return LR_ERR_BAD_CONSTANT;
        }
    } else {
        return LR_ERR_BAD_CONSTANT;
    }
    if (op->dtype != LR_DTYPE_I8) {
        other += op->n_w8 + op->n_ws + (op->w8 != 0u) + (op->ws != 0u);
    }
    if (other != 0u) {
        return LR_ERR_BAD_CONSTANT;
    }
    if (n_weight < 0 ? (nw != 1u && nw != alt) : (int64_t)nw != n_weight) {
        return LR_ERR_BAD_CONSTANT;
    }
    if (nb != 0u && (n_bias < 1 || nb != (uint32_t)n_bias)) {
        return LR_ERR_BAD_CONSTANT;
    }
    if (nb == 0u && (op->dtype == LR_DTYPE_F16 ? op->b16 : op->b32) != 0u) {
        return LR_ERR_BAD_CONSTANT; /* an empty bias vector: the kernels read a present bias as out_ch values */
    }
    return LR_OK;
}

/* Output extent of a window op along one axis; 0 if invalid. Only after window_params_ok: every value below
 * is then <= 2^30, so 32-bit arithmetic and division (no 64-bit division linked into the firmware). */
static int32_t window_out(int32_t in, int32_t k, int32_t s, int32_t d, int32_t p0, int32_t p1)
{
    const int32_t extent = d * (k - 1) + 1;
    const int32_t padded = in + p0 + p1;
    if (padded < extent) {
        return 0;
    }
    return (padded - extent) / s + 1;
}

/*
 * Window parameters: kernel, stride, dilation >= 1, pads >= 0, and small enough that the kernels'
 * 32-bit index arithmetic cannot overflow: kernel extent, stride, padded input extent and kernel
 * area all <= 2^30 (every intermediate stays within +-2^31).
 */
static int window_params_ok(const lr_op *op, const shape *in)
{
    const int64_t lim = (int64_t)1 << 30;
    if (!(op->kh >= 1 && op->kw >= 1 && op->sh >= 1 && op->sw >= 1 && op->dh >= 1 && op->dw >= 1 &&
          op->pt >= 0 && op->pl >= 0 && op->pb >= 0 && op->pr >= 0)) {
        return 0;
    }
    return (int64_t)op->dh * (op->kh - 1) + 1 <= lim && (int64_t)op->dw * (op->kw - 1) + 1 <= lim &&
           op->sh <= lim && op->sw <= lim && (int64_t)op->kh * op->kw <= lim &&
           (int64_t)in->d[1] + op->pt + op->pb <= lim && (int64_t)in->d[2] + op->pl + op->pr <= lim;
}

/* Kept kernels under a kernel mask of n bits (LR_ERR_BAD_CONSTANT: wrong length or a padding bit set). */
static lr_status mask_count(const unsigned char *mask, uint32_t n_bytes, uint32_t n, uint32_t *kept)
{
    uint32_t i, count = 0u;
    if ((uint64_t)n_bytes != ((uint64_t)n + 7u) / 8u) {
        return LR_ERR_BAD_CONSTANT;
    }
    if ((n & 7u) != 0u && (mask[n_bytes - 1u] >> (n & 7u)) != 0u) {
        return LR_ERR_BAD_CONSTANT; /* bits past the last kernel must be zero: one encoding per mask */
    }
    for (i = 0; i < n_bytes; i++) {
        uint32_t v = mask[i];
        while (v != 0u) {
            count += v & 1u;
            v >>= 1;
        }
    }
    *kept = count;
    return LR_OK;
}

/* LinRep weights of a conv op over a kernel grid of rows x cols kernels ((Cout, Cin/groups) for
 * LINREP_CONV2D, (Cin, Cout/groups) for a LinRep CONV_TRANSPOSE2D): codebook, index width, mask, byte
 * counts (integer a/b: one a and one b scale per row) and every index < K. */
static lr_status check_linrep(const lr_model *m, const lr_op *op, int32_t rows, int32_t cols)
{
    lr_linrep lr;
    lr_codebook cb;
    uint64_t n64 = (uint64_t)rows * (uint64_t)cols;
    uint32_t n, i;
    const unsigned char *bytes;
    if (op->linrep == 0u) {
        return LR_ERR_BAD_PARAMS;
    }
    lr_read_linrep(m, op->linrep, &lr);
    if (lr.codebook < 0 || (uint32_t)lr.codebook >= m->n_codebooks) {
        return LR_ERR_BAD_CODEBOOK;
    }
    lr_read_codebook(m, (uint32_t)lr.codebook, &cb);
    if (cb.kh != op->kh || cb.kw != op->kw) {
        return LR_ERR_BAD_CODEBOOK;
    }
    if (lr.bits < 1u || lr.bits > 16u) {
        return LR_ERR_INDEX_WIDTH;
    }
    if (n64 > LR_MAX_NUMEL) {
        return LR_ERR_OVERFLOW;
    }
    n = (uint32_t)n64;
    if (lr.mask != 0u) { /* pruned kernels: indices and a/b of the kept ones only */
        lr_status s = mask_count(m->blob + lr.mask, lr.n_mask, n, &n);
        if (s != LR_OK) {
            return s;
        }
    }
    if ((uint64_t)lr.n_idx != ((uint64_t)n * lr.bits + 7u) / 8u) {
        return LR_ERR_INDEX_WIDTH;
    }
    if (lr.ab_bits == 0u) { /* fp16 pairs */
        if ((uint64_t)lr.n_ab != 2u * (uint64_t)n || lr.abq != 0u || lr.as != 0u || lr.bs != 0u) {
            return LR_ERR_BAD_CONSTANT;
        }
    } else {
        /* integer pairs with one a and one b scale per row; an int8 model of version 5 stores no scales (they
         * are folded into its multipliers, which is all lr_run_i8 reads) */
        const uint32_t n_scales = LR_IS_INT8(m) && lr_get_u32(m->blob, m->root, LR_MODEL_FORMAT_VERSION, 0u) >= 5u
                                      ? 0u : (uint32_t)rows;
        if (lr.ab_bits < 2u || lr.ab_bits > 8u || lr.ab != 0u ||
            (uint64_t)lr.n_abq != (2u * (uint64_t)n * lr.ab_bits + 7u) / 8u || lr.n_as != n_scales ||
            lr.n_bs != n_scales || (n_scales == 0u && (lr.as != 0u || lr.bs != 0u))) {
            return LR_ERR_BAD_CONSTANT;
        }
    }
    bytes = m->blob + lr.idx;
    for (i = 0; i < n; i++) {
        if (lr_unpack_index(bytes, i, lr.bits) >= (uint32_t)cb.k) {
            return LR_ERR_INDEX_RANGE;
        }
    }
    if (!LR_DIRECT_ON && lr.mask != 0u && !LR_IS_INT8(m) && op->type == LR_OP_TYPE_LINREP_CONV2D) {
        return LR_ERR_UNSUPPORTED_OP; /* fp32 pruned kernels run direct only: left out (LR_LINREP_PATHS) */
    }
    return LR_OK;
}

/* CONV2D / LINREP_CONV2D: parameters, weights, bias; output shape into *out; scratch floats. */
static lr_status check_conv(const lr_model *m, const lr_op *op, const shape *in, shape *out,
                            uint32_t *scratch)
{
    int32_t cin_g;
    int64_t oh, ow, kk;
    lr_status s;
    if (op->n_inputs != 1u || in->rank != 3u || !window_params_ok(op, in) || op->groups < 1 ||
        op->out_ch < 1 || in->d[0] % op->groups != 0 || op->out_ch % op->groups != 0) {
        return LR_ERR_BAD_PARAMS;
    }
    cin_g = in->d[0] / op->groups;
    oh = window_out(in->d[1], op->kh, op->sh, op->dh, op->pt, op->pb);
    ow = window_out(in->d[2], op->kw, op->sw, op->dw, op->pl, op->pr);
    kk = (int64_t)op->kh * op->kw * cin_g;
    if (oh < 1 || ow < 1 || oh > LR_MAX_NUMEL || ow > LR_MAX_NUMEL || kk > LR_MAX_NUMEL) {
        return LR_ERR_BAD_PARAMS;
    }
    set3(out, op->out_ch, oh, ow);
    if (op->type == LR_OP_TYPE_LINREP_CONV2D && LR_OP_ON(LR_OP_TYPE_LINREP_CONV2D)) { /* else refused by check_op */
        s = check_linrep(m, op, op->out_ch, cin_g);
        if (s == LR_OK) {
            s = check_tensors_of(op, 0, 0u, op->out_ch); /* bias only */
        }
        if (s == LR_OK) {
            /* scratch: the codebook decoded once per op (K * kh * kw floats), then one output
             * channel's kernels */
            lr_linrep lr;
            lr_codebook cb;
            uint64_t need;
            lr_read_linrep(m, op->linrep, &lr);
            lr_read_codebook(m, (uint32_t)lr.codebook, &cb);
            need = (uint64_t)cb.k * (uint64_t)op->kh * (uint64_t)op->kw + (uint64_t)kk;
            if (need > LR_MAX_NUMEL) {
                return LR_ERR_OVERFLOW;
            }
            if ((uint32_t)need > *scratch) {
                *scratch = (uint32_t)need;
            }
        }
    } else {
        s = op->linrep != 0u ? LR_ERR_BAD_PARAMS : check_tensors_of(op, (int64_t)op->out_ch * kk, 0u, op->out_ch);
        if (s == LR_OK && op->dtype != LR_DTYPE_F32 && (uint32_t)kk > *scratch) {
            *scratch = (uint32_t)kk;
        }
    }
    return s;
}

static lr_status check_pool(const lr_op *op, const shape *in, shape *out)
{
    int64_t oh, ow;
    if (op->n_inputs != 1u || in->rank != 3u || !window_params_ok(op, in)) {
        return LR_ERR_BAD_PARAMS;
    }
    if (op->type == LR_OP_TYPE_MAX_POOL2D) {
        /* torch: pad <= effective kernel / 2, so every window sees an input value */
        int64_t eh = (int64_t)op->dh * (op->kh - 1) + 1, ew = (int64_t)op->dw * (op->kw - 1) + 1;
        if (2 * (int64_t)op->pt > eh || 2 * (int64_t)op->pb > eh || 2 * (int64_t)op->pl > ew ||
            2 * (int64_t)op->pr > ew) {
            return LR_ERR_BAD_PARAMS;
        }
    } else {
        /* torch: avg_pool2d has no dilation, pad <= kernel / 2 */
        if (op->dh != 1 || op->dw != 1 || 2 * (int64_t)op->pt > op->kh || 2 * (int64_t)op->pb > op->kh ||
            2 * (int64_t)op->pl > op->kw || 2 * (int64_t)op->pr > op->kw) {
            return LR_ERR_BAD_PARAMS;
        }
    }
    oh = window_out(in->d[1], op->kh, op->sh, op->dh, op->pt, op->pb);
    ow = window_out(in->d[2], op->kw, op->sw, op->dw, op->pl, op->pr);
    if (oh < 1 || ow < 1) {
        return LR_ERR_BAD_PARAMS;
    }
    set3(out, in->d[0], oh, ow);
    return LR_OK;
}

/* ADD / MUL broadcast (format version 3): a [C, H, W] first input, a second of [C, 1, 1] or [C]. */
static int channel_broadcast(const shape *a, const shape *b)
{
    return a->rank == 3u && b->d[0] == a->d[0] &&
           (b->rank == 1u || (b->rank == 3u && b->d[1] == 1 && b->d[2] == 1));
}

/* MUL broadcast over channels (format version 8): a [C, H, W] first input, a second of [1, H, W] (C > 1). */
static int pixel_broadcast(const shape *a, const shape *b)
{
    return a->rank == 3u && b->rank == 3u && b->d[0] == 1 && a->d[0] > 1 && b->d[1] == a->d[1] && b->d[2] == a->d[2];
}

/*
 * Ops that move data without weights (format version 3): RESIZE, PAD, SLICE, TRANSPOSE_HWC; (version 6)
 * CHANNEL_SHUFFLE, `groups` >= 1 dividing the channels, and PAD's border modes; (version 8) PIXEL_SHUFFLE. The
 * output shape into *out (computed, or for RESIZE the stored one, whose channels must match).
 */
static lr_status check_layout(const lr_op *op, const shape *in, const shape *stored, shape *out)
{
    if (op->n_inputs != 1u || (in->rank != 3u && op->type != LR_OP_TYPE_SLICE)) {
        return LR_ERR_BAD_PARAMS;
    }
    switch (op->type) {
    case LR_OP_TYPE_RESIZE:
        /* any output size for bilinear and (version 8) mode 3; nearest: integer multiples of the input */
        if (op->mode > 3u || stored->rank != 3u ||
            (op->mode == 0u && (stored->d[1] % in->d[1] != 0 || stored->d[2] % in->d[2] != 0))) {
            return LR_ERR_BAD_PARAMS;
        }
        set3(out, in->d[0], stored->d[1], stored->d[2]);
        break;
    case LR_OP_TYPE_PAD: /* mode 0 constant (alpha), (version 6) 1 reflect: every pad < its axis' size, 2 replicate */
        if (op->pt < 0 || op->pl < 0 || op->pb < 0 || op->pr < 0 || op->mode > 2u ||
            (op->mode == 1u &&
             (op->pt >= in->d[1] || op->pb >= in->d[1] || op->pl >= in->d[2] || op->pr >= in->d[2]))) {
            return LR_ERR_BAD_PARAMS;
        }
        set3(out, in->d[0], (int64_t)in->d[1] + op->pt + op->pb, (int64_t)in->d[2] + op->pl + op->pr);
        break;
#if LR_OP_ON(LR_OP_TYPE_CHANNEL_SHUFFLE)
    case LR_OP_TYPE_CHANNEL_SHUFFLE: /* [C, H, W] -> [C, H, W], channels regrouped */
        if (op->groups < 1 || in->d[0] % op->groups != 0) {
            return LR_ERR_BAD_PARAMS;
        }
        *out = *in;
        break;
#endif
#if LR_OP_ON(LR_OP_TYPE_PIXEL_SHUFFLE)
    case LR_OP_TYPE_PIXEL_SHUFFLE: { /* (version 8) block size r in stride_h = stride_w, mode 0-3 */
        const int32_t r = op->sh; /* 32-bit divisions only (no 64-bit division routine on Cortex-M) */
        if (op->sh != op->sw || r < 1 || r > 255 || op->mode > 3u) {
            return LR_ERR_BAD_PARAMS;
        }
        if ((op->mode & 1u) == 0u) { /* depth to space: [C r^2, H, W] -> [C, H r, W r] */
            if (in->d[0] % (r * r) != 0) {
                return LR_ERR_BAD_PARAMS;
            }
            set3(out, in->d[0] / (r * r), (int64_t)in->d[1] * r, (int64_t)in->d[2] * r);
        } else { /* space to depth: [C, H r, W r] -> [C r^2, H, W] */
            if (in->d[1] % r != 0 || in->d[2] % r != 0) {
                return LR_ERR_BAD_PARAMS;
            }
            set3(out, (int64_t)in->d[0] * r * r, in->d[1] / r, in->d[2] / r);
        }
        break;
    }
#endif
    case LR_OP_TYPE_SLICE: /* channels [start, start + C_out) of [C, H, W], or features of [F] */
        if (op->start < 0 || stored->d[0] > in->d[0] - op->start) {
            return LR_ERR_BAD_PARAMS;
        }
        *out = *in;
        out->d[0] = stored->d[0];
        break;
    default: /* TRANSPOSE_HWC: [C, H, W] -> [C * H * W] */
        out->rank = 1u;
        out->d[0] = (int32_t)shape_numel(in);
        out->d[1] = out->d[2] = 1;
        break;
    }
    return LR_OK;
}

/*
 * CONV_TRANSPOSE2D (format version 3): torch's conv_transpose2d. Weight [C, Cout/groups, kh, kw] (fp32
 * or fp16), or LinRep weights over the kernel grid (C, Cout/groups) (check_linrep; the kernels are
 * rebuilt one input channel at a time: scratch K * kh * kw + Cout/groups * kh * kw floats); optional bias
 * [Cout]; kernel, stride, dilation >= 1; padding symmetric and >= 0; groups divide C and Cout. Along each
 * axis the stored output size must be (in - 1) * s - 2p + d * (k - 1) + 1 + output_padding with
 * 0 <= output_padding < max(s, d); computed in 64 bits (every later index then stays below the 16-bit
 * output sizes plus twice the padding).
 */
static lr_status check_conv_transpose(const lr_model *m, const lr_op *op, const shape *in, const shape *stored,
                                      shape *out, uint32_t *scratch)
{
    int64_t base_h, base_w, ph, pw, kk;
    int32_t cout_g;
    lr_status s;
    if (op->n_inputs != 1u || in->rank != 3u || stored->rank != 3u ||
        !(op->kh >= 1 && op->kw >= 1 && op->sh >= 1 && op->sw >= 1 && op->dh >= 1 && op->dw >= 1 &&
          op->pt >= 0 && op->pl >= 0 && op->pt == op->pb && op->pl == op->pr) ||
        op->groups < 1 || op->out_ch < 1 || in->d[0] % op->groups != 0 || op->out_ch % op->groups != 0) {
        return LR_ERR_BAD_PARAMS;
    }
    base_h = ((int64_t)in->d[1] - 1) * op->sh - 2 * (int64_t)op->pt + (int64_t)op->dh * (op->kh - 1) + 1;
    base_w = ((int64_t)in->d[2] - 1) * op->sw - 2 * (int64_t)op->pl + (int64_t)op->dw * (op->kw - 1) + 1;
    ph = (int64_t)stored->d[1] - base_h;
    pw = (int64_t)stored->d[2] - base_w;
    if (base_h < 1 || base_w < 1 || ph < 0 || pw < 0 || ph >= (op->sh > op->dh ? op->sh : op->dh) ||
        pw >= (op->sw > op->dw ? op->sw : op->dw)) {
        return LR_ERR_SHAPE_MISMATCH;
    }
    set3(out, op->out_ch, stored->d[1], stored->d[2]);
    cout_g = op->out_ch / op->groups;
    kk = (int64_t)op->kh * op->kw;
    if ((op->dtype == LR_DTYPE_I8 && (!LR_IS_INT8(m) || op->linrep != 0u)) || (int64_t)in->d[0] * cout_g > LR_MAX_NUMEL) {
        return LR_ERR_BAD_CONSTANT; /* dense weights (int8 in int8 models only) or LinRep, of at most LR_MAX_NUMEL kernels */
    }
    if (op->linrep == 0u) {
        return check_tensors_of(op, (int64_t)in->d[0] * cout_g * kk, 0u, op->out_ch);
    }
    s = check_linrep(m, op, in->d[0], cout_g);
    if (s == LR_OK) {
        s = check_tensors_of(op, 0, 0u, op->out_ch); /* bias only */
    }
    if (s == LR_OK) {
        lr_linrep lr;
        lr_codebook cb;
        uint64_t need;
        lr_read_linrep(m, op->linrep, &lr);
        lr_read_codebook(m, (uint32_t)lr.codebook, &cb);
        need = ((uint64_t)cb.k + (uint64_t)cout_g) * (uint64_t)kk; /* codebook, then one row's kernels */
        if (need > LR_MAX_NUMEL) {
            return LR_ERR_OVERFLOW;
        }
        if ((uint32_t)need > *scratch) {
            *scratch = (uint32_t)need;
        }
    }
    return s;
}

/* An int8 AFFINE (int8 models): c int8 weights, one scale per channel or one, no float weight or bias (the
 * bias is bias_i32, checked by lr_verify_i8.c). */
static lr_status check_affine_i8(const lr_op *op, int32_t c)
{
    if (op->n_w8 != (uint32_t)c || (op->n_ws != 1u && op->n_ws != (uint32_t)c) ||
        (op->n_w32 | op->n_w16 | op->n_b32 | op->n_b16 | op->w32 | op->w16 | op->b32 | op->b16) != 0u) {
        return LR_ERR_BAD_CONSTANT;
    }
    return LR_OK;
}

#if LR_OP_ON(LR_OP_TYPE_UNARY)
/* UNARY (format version 7): a Unary function (mode) with parameters it can use (alpha, beta not NaN; CELU's alpha not
 * 0; Softplus's alpha, torch's beta, above 0 and finite; Softshrink's alpha not negative; a scale's finite), and no
 * constants but, in an int8 model, its table: weight_i8 of exactly LR_UNARY_TABLE_BYTES. */
static lr_status check_unary(const lr_model *m, const lr_op *op)
{
    const int int8 = m->tensor_quant != 0u;
    if ((op->n_w32 | op->n_w16 | op->n_b32 | op->n_b16 | op->w32 | op->w16 | op->b32 | op->b16 | op->ws |
         op->n_ws) != 0u || (op->w8 != 0u) != int8 || (int8 && op->n_w8 != LR_UNARY_TABLE_BYTES)) {
        return LR_ERR_BAD_CONSTANT;
    }
    if (op->mode >= LR_UNARY_COUNT || op->alpha != op->alpha || op->beta != op->beta ||
        (op->mode == LR_UNARY_CELU && op->alpha == 0.0f) ||
        (op->mode == LR_UNARY_SOFTPLUS && !(op->alpha > 0.0f && op->alpha <= 3.40282347e+38f)) ||
        (op->mode == LR_UNARY_SOFTSHRINK && !(op->alpha >= 0.0f)) ||
        (op->mode == LR_UNARY_SCALE && !(op->alpha >= -3.40282347e+38f && op->alpha <= 3.40282347e+38f))) {
        return LR_ERR_BAD_PARAMS;
    }
    return LR_OK;
}
#endif

static lr_status check_op(const lr_model *m, const lr_op *op, lr_where *where, uint32_t *scratch)
{
    shape in, out, stored;
    uint32_t i;
    lr_status s = LR_OK;
    if (op->type >= LR_OP_TYPE_COUNT || !LR_OP_ON(op->type)) {
        return LR_ERR_UNSUPPORTED_OP; /* unknown, or left out of this build (LR_OPS) */
    }
    if (op->v4 && m->tensor_quant == 0u) {
        return LR_ERR_BAD_PARAMS; /* integer op parameters in an fp32 model */
    }
    for (i = 0; i < op->n_inputs; i++) {
        int32_t id = lr_op_input(m, op, i);
        if (id < 0 || id > (int32_t)op->index) { /* only tensors written before this op */
            where->tensor = id;
            return LR_ERR_BAD_GRAPH;
        }
    }
    if (op->n_inputs == 0u) {
        return LR_ERR_BAD_PARAMS;
    }
    if (op->activation > LR_ACTIVATION_RELU6 ||
        (op->activation != LR_ACTIVATION_NONE && op->type != LR_OP_TYPE_CONV2D &&
         op->type != LR_OP_TYPE_LINREP_CONV2D && op->type != LR_OP_TYPE_LINEAR && op->type != LR_OP_TYPE_ADD &&
         op->type != LR_OP_TYPE_CONV_TRANSPOSE2D && op->type != LR_OP_TYPE_MUL && op->type != LR_OP_TYPE_AFFINE &&
         (!LR_OP_ON(LR_OP_TYPE_SUB) || op->type != LR_OP_TYPE_SUB))) { /* (builds without SUB: the same code) */
        return LR_ERR_BAD_PARAMS;
    }
    if (op->linrep != 0u && op->type != LR_OP_TYPE_LINREP_CONV2D && op->type != LR_OP_TYPE_CONV_TRANSPOSE2D) {
        return LR_ERR_BAD_PARAMS;
    }
    if (op->type != LR_OP_TYPE_CONV2D && op->type != LR_OP_TYPE_LINREP_CONV2D && op->type != LR_OP_TYPE_LINEAR &&
        op->type != LR_OP_TYPE_PRELU && op->type != LR_OP_TYPE_AFFINE && op->type != LR_OP_TYPE_CONV_TRANSPOSE2D &&
        (!LR_OP_ON(LR_OP_TYPE_UNARY) || op->type != LR_OP_TYPE_UNARY) && /* UNARY: check_unary */
        (op->n_w32 | op->n_w16 | op->n_b32 | op->n_b16 | op->w32 | op->w16 |
         op->b32 | op->b16 | op->w8 | op->n_w8 | op->ws | op->n_ws) != 0u) {
        return LR_ERR_BAD_CONSTANT; /* weights on an op that has none */
    }
    get_shape(m, lr_op_input(m, op, 0u), &in);
    get_shape(m, op->output, &stored);
    out = in; /* elementwise ops */
    switch (op->type) {
    case LR_OP_TYPE_CONV2D:
    case LR_OP_TYPE_LINREP_CONV2D:
        if (!(LR_OP_ON(LR_OP_TYPE_CONV2D) || LR_OP_ON(LR_OP_TYPE_LINREP_CONV2D))) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        s = check_conv(m, op, &in, &out, scratch);
        break;
    case LR_OP_TYPE_LINEAR:
        if (!LR_OP_ON(LR_OP_TYPE_LINEAR)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        if (op->n_inputs != 1u || in.rank != 1u || op->out_ch < 1 ||
            (int64_t)op->out_ch * in.d[0] > LR_MAX_NUMEL) {
            return LR_ERR_BAD_PARAMS;
        }
        s = check_tensors_of(op, (int64_t)op->out_ch * in.d[0], 0u, op->out_ch);
        out.rank = 1u;
        out.d[0] = op->out_ch;
        break;
    case LR_OP_TYPE_RELU:
    case LR_OP_TYPE_RELU6:
    case LR_OP_TYPE_LEAKY_RELU:
    case LR_OP_TYPE_SIGMOID:
    case LR_OP_TYPE_HARDSWISH:
    case LR_OP_TYPE_TANH:
    case LR_OP_TYPE_HARDSIGMOID:
    case LR_OP_TYPE_SILU:
        if (!(LR_OP_ON(LR_OP_TYPE_RELU) || LR_OP_ON(LR_OP_TYPE_RELU6) || LR_OP_ON(LR_OP_TYPE_LEAKY_RELU) ||
              LR_OP_ON(LR_OP_TYPE_SIGMOID) || LR_OP_ON(LR_OP_TYPE_HARDSWISH) || LR_OP_ON(LR_OP_TYPE_TANH) ||
              LR_OP_ON(LR_OP_TYPE_HARDSIGMOID) || LR_OP_ON(LR_OP_TYPE_SILU))) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        s = op->n_inputs == 1u ? LR_OK : LR_ERR_BAD_PARAMS;
        break;
#if LR_OP_ON(LR_OP_TYPE_UNARY) /* no case label otherwise: other builds' switches unchanged */
    case LR_OP_TYPE_UNARY:
        s = op->n_inputs == 1u ? check_unary(m, op) : LR_ERR_BAD_PARAMS;
        break;
#endif
    case LR_OP_TYPE_CLAMP: /* bounds may be infinite, not NaN */
        if (!LR_OP_ON(LR_OP_TYPE_CLAMP)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        s = op->n_inputs == 1u && op->alpha == op->alpha && op->beta == op->beta ? LR_OK : LR_ERR_BAD_PARAMS;
        break;
    case LR_OP_TYPE_PRELU:
        if (!LR_OP_ON(LR_OP_TYPE_PRELU)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        if (op->n_inputs != 1u) {
            return LR_ERR_BAD_PARAMS;
        }
        s = check_tensors_of(op, -1, (uint32_t)in.d[0], 0); /* 1 or C slopes, no bias */
        break;
    case LR_OP_TYPE_MAX_POOL2D:
    case LR_OP_TYPE_AVG_POOL2D:
        if (!(LR_OP_ON(LR_OP_TYPE_MAX_POOL2D) || LR_OP_ON(LR_OP_TYPE_AVG_POOL2D))) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        s = check_pool(op, &in, &out);
        break;
    case LR_OP_TYPE_ADAPTIVE_AVG_POOL2D:
        if (!LR_OP_ON(LR_OP_TYPE_ADAPTIVE_AVG_POOL2D)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        /* kernel_h/kernel_w hold the output size; the kernel computes (i + 1) * H in 32 bits */
        if (op->n_inputs != 1u || in.rank != 3u || op->kh < 1 || op->kw < 1 ||
            ((int64_t)op->kh + 1) * in.d[1] > 0x7FFFFFFF || ((int64_t)op->kw + 1) * in.d[2] > 0x7FFFFFFF) {
            return LR_ERR_BAD_PARAMS;
        }
        set3(&out, in.d[0], op->kh, op->kw);
        break;
    case LR_OP_TYPE_ADD:
#if LR_OP_ON(LR_OP_TYPE_SUB) /* no case label otherwise: other builds' switches unchanged */
    case LR_OP_TYPE_SUB:
#endif
    case LR_OP_TYPE_MUL: {
        if (!(LR_OP_ON(LR_OP_TYPE_ADD) || LR_OP_ON(LR_OP_TYPE_MUL) || LR_OP_ON(LR_OP_TYPE_SUB))) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        shape in2;
        if (op->n_inputs != 2u) {
            return LR_ERR_BAD_PARAMS;
        }
        get_shape(m, lr_op_input(m, op, 1u), &in2);
        if (!same_shape(&in, &in2) && !channel_broadcast(&in, &in2) &&
            !(LR_OP_ON(LR_OP_TYPE_MUL) && op->type == LR_OP_TYPE_MUL && pixel_broadcast(&in, &in2))) {
            where->tensor = lr_op_input(m, op, 1u);
            return LR_ERR_SHAPE_MISMATCH;
        }
        break;
    }
    case LR_OP_TYPE_CONCAT: {
        if (!LR_OP_ON(LR_OP_TYPE_CONCAT)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        int64_t c = 0;
        for (i = 0; i < op->n_inputs; i++) {
            shape x;
            get_shape(m, lr_op_input(m, op, i), &x);
            if (x.rank != 3u) {
                return LR_ERR_BAD_PARAMS;
            }
            if (x.d[1] != in.d[1] || x.d[2] != in.d[2]) {
                where->tensor = lr_op_input(m, op, i);
                return LR_ERR_SHAPE_MISMATCH;
            }
            c += x.d[0];
        }
        if (c > LR_MAX_NUMEL) {
            return LR_ERR_OVERFLOW;
        }
        set3(&out, c, in.d[1], in.d[2]);
        break;
    }
    case LR_OP_TYPE_RESHAPE:
        if (!LR_OP_ON(LR_OP_TYPE_RESHAPE)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        if (op->n_inputs != 1u) {
            return LR_ERR_BAD_PARAMS;
        }
        if (shape_numel(&in) != shape_numel(&stored)) {
            where->tensor = op->output;
            return LR_ERR_SHAPE_MISMATCH;
        }
        out = stored;
        break;
    case LR_OP_TYPE_SOFTMAX: /* over [F], or (version 3) over the channels of each pixel of [C, H, W] */
        if (!LR_OP_ON(LR_OP_TYPE_SOFTMAX)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        s = op->n_inputs == 1u ? LR_OK : LR_ERR_BAD_PARAMS;
        break;
    case LR_OP_TYPE_RESIZE:
    case LR_OP_TYPE_PAD:
    case LR_OP_TYPE_SLICE:
    case LR_OP_TYPE_TRANSPOSE_HWC:
#if LR_OP_ON(LR_OP_TYPE_CHANNEL_SHUFFLE) /* no case label otherwise: other builds' switches unchanged */
    case LR_OP_TYPE_CHANNEL_SHUFFLE:
#endif
#if LR_OP_ON(LR_OP_TYPE_PIXEL_SHUFFLE)
    case LR_OP_TYPE_PIXEL_SHUFFLE:
#endif
        if (!(LR_OP_ON(LR_OP_TYPE_RESIZE) || LR_OP_ON(LR_OP_TYPE_PAD) || LR_OP_ON(LR_OP_TYPE_SLICE) ||
              LR_OP_ON(LR_OP_TYPE_TRANSPOSE_HWC) || LR_OP_ON(LR_OP_TYPE_CHANNEL_SHUFFLE) ||
              LR_OP_ON(LR_OP_TYPE_PIXEL_SHUFFLE))) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        s = check_layout(op, &in, &stored, &out);
        break;
    case LR_OP_TYPE_AFFINE: /* one weight per channel (or feature), optional bias of the same length */
        if (!LR_OP_ON(LR_OP_TYPE_AFFINE)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        if (op->n_inputs != 1u) {
            return LR_ERR_BAD_PARAMS;
        }
        if (op->dtype == LR_DTYPE_I8) { /* int8 models only: a depthwise 1x1 conv, bias int32 (lr_verify_i8.c) */
            s = LR_IS_INT8(m) ? check_affine_i8(op, in.d[0]) : LR_ERR_BAD_CONSTANT;
            break;
        }
        s = check_tensors_of(op, in.d[0], 0u, in.d[0]);
        break;
    case LR_OP_TYPE_CONV_TRANSPOSE2D:
        if (!LR_OP_ON(LR_OP_TYPE_CONV_TRANSPOSE2D)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        s = check_conv_transpose(m, op, &in, &stored, &out, scratch);
        break;
    default:
        return LR_ERR_UNSUPPORTED_OP;
    }
    if (s != LR_OK) {
        if (s == LR_ERR_SHAPE_MISMATCH) {
            where->tensor = op->output;
        }
        return s;
    }
    if (!same_shape(&out, &stored)) {
        where->tensor = op->output;
        return LR_ERR_SHAPE_MISMATCH;
    }
    return LR_OK;
}

/* Format version 4 fields (tensor_quant, an op's or a codebook's integer fields) need version 4. */
static int uses_v4(const lr_model *m)
{
    uint32_t k;
    if (m->tensor_quant != 0u || lr_field(m->blob, m->root, LR_MODEL_TENSOR_QUANT) != 0u) {
        return 1;
    }
    for (k = 0; k < m->n_ops; k++) {
        lr_op op;
        lr_read_op(m, k, &op);
        if (op.v4) {
            return 1;
        }
    }
    for (k = 0; LR_LINREP_ON && k < m->n_codebooks; k++) {
        lr_codebook cb;
        lr_read_codebook(m, k, &cb);
        if (cb.v4) {
            return 1;
        }
    }
    return 0;
}

lr_status lr_verify_semantics(const lr_model *m, uint32_t *scratch_floats, lr_where *where)
{
    lr_status s;
    uint32_t k, scratch_i8 = 0u;
    *scratch_floats = 0u;
    if (m->n_tensors > LR_MAX_TENSORS || m->n_ops > LR_MAX_OPS || m->n_ops > 65000u) {
        return LR_ERR_TOO_MANY;
    }
    /* tensor 0 is the input, op k writes tensor k + 1: exactly one tensor per op, plus the input */
    if (m->n_tensors != m->n_ops + 1u || m->output < 0 || (uint32_t)m->output >= m->n_tensors) {
        return LR_ERR_BAD_GRAPH;
    }
    if (m->n_ops <= LR_MAX_OPS && lr_get_u32(m->blob, m->root, LR_MODEL_FORMAT_VERSION, 0u) < 4u && uses_v4(m)) {
        return LR_ERR_VERSION; /* a version-4 field in a blob that says an older version */
    }
    if (m->tensor_quant != 0u && !LR_INT8) {
        return LR_ERR_UNSUPPORTED_OP; /* a build without int8 models (-DLR_INT8=0) */
    }
    if (m->tensor_quant == 0u && !LR_FP32) {
        return LR_ERR_UNSUPPORTED_OP; /* an integer-only build (-DLR_FP32=0) */
    }
    s = verify_tensors(m, where);
    if (s == LR_OK && LR_IS_INT8(m)) {
        s = lr_verify_quant_i8(m, where);
    }
    if (s == LR_OK) {
        s = verify_outputs(m, where);
    }
    if (s == LR_OK && LR_LINREP_ON) {
        s = verify_codebooks(m);
    }
    for (k = 0; s == LR_OK && k < m->n_ops; k++) {
        lr_op op;
        lr_read_op(m, k, &op);
        where->op = (int32_t)k;
        s = check_op(m, &op, where, scratch_floats);
        if (s == LR_OK && LR_IS_INT8(m)) {
            s = lr_verify_op_i8(m, &op, where, &scratch_i8);
        }
    }
    if (s == LR_OK && !LR_LINREP_ON && m->n_codebooks != 0u) {
        where->op = -1; /* after the ops: a LinRep op left out of the build is the one named */
        s = LR_ERR_UNSUPPORTED_OP; /* templates, and no op in this build (LR_OPS) that reads them */
    }
    if (s == LR_OK) {
        where->op = -1;
        if (LR_IS_INT8(m)) {
            *scratch_floats = scratch_i8; /* the int8 kernels' int32 scratch, in 4-byte words */
        }
    }
    return s;
}
