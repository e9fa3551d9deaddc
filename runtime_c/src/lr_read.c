/*
 * lr_read.c -- the reader: decode tensors, ops, constants and codebooks of a blob whose structure
 * lr_verify_structure accepted. No bounds checks here (verify once, then read): every position it
 * follows was checked to lie inside the blob, with room for the field or vector it names.
 */
#include "lr_internal.h"

int32_t lr_op_input(const lr_model *m, const lr_op *op, uint32_t i)
{
    return lr_lei32(m->blob + op->inputs + 4u * i);
}

void lr_read_op(const lr_model *m, uint32_t k, lr_op *op)
{
    const unsigned char *b = m->blob;
    uint32_t t = lr_vec_table(b, m->ops, k);
    op->type = lr_get_u8(b, t, LR_OP_TYPE, 0u);
    op->name = lr_get_ref(b, t, LR_OP_NAME);
    op->inputs = lr_get_vec(b, t, LR_OP_INPUTS, &op->n_inputs);
    op->output = lr_get_i32(b, t, LR_OP_OUTPUT, 0);
    op->kh = lr_get_i32(b, t, LR_OP_KERNEL_H, LR_OP_KERNEL_H_DEFAULT);
    op->kw = lr_get_i32(b, t, LR_OP_KERNEL_W, LR_OP_KERNEL_W_DEFAULT);
    op->sh = lr_get_i32(b, t, LR_OP_STRIDE_H, LR_OP_STRIDE_H_DEFAULT);
    op->sw = lr_get_i32(b, t, LR_OP_STRIDE_W, LR_OP_STRIDE_W_DEFAULT);
    op->pt = lr_get_i32(b, t, LR_OP_PAD_TOP, 0);
    op->pl = lr_get_i32(b, t, LR_OP_PAD_LEFT, 0);
    op->pb = lr_get_i32(b, t, LR_OP_PAD_BOTTOM, 0);
    op->pr = lr_get_i32(b, t, LR_OP_PAD_RIGHT, 0);
    op->dh = lr_get_i32(b, t, LR_OP_DILATION_H, LR_OP_DILATION_H_DEFAULT);
    op->dw = lr_get_i32(b, t, LR_OP_DILATION_W, LR_OP_DILATION_W_DEFAULT);
    op->groups = lr_get_i32(b, t, LR_OP_GROUPS, LR_OP_GROUPS_DEFAULT);
    op->out_ch = lr_get_i32(b, t, LR_OP_OUT_CHANNELS, 0);
    op->count_include_pad = lr_get_u8(b, t, LR_OP_COUNT_INCLUDE_PAD, LR_OP_COUNT_INCLUDE_PAD_DEFAULT) != 0u;
    op->alpha = lr_get_f32(b, t, LR_OP_ALPHA, 0.0f);
    op->weight = lr_get_i32(b, t, LR_OP_WEIGHT, LR_OP_WEIGHT_DEFAULT);
    op->bias = lr_get_i32(b, t, LR_OP_BIAS, LR_OP_BIAS_DEFAULT);
    op->linrep = lr_get_ref(b, t, LR_OP_LINREP);
}

static uint32_t read_dims(const unsigned char *b, uint32_t t, uint32_t slot, int32_t dims[LR_MAX_RANK])
{
    uint32_t n, i;
    uint32_t v = lr_get_vec(b, t, slot, &n);
    for (i = 0; i < LR_MAX_RANK; i++) {
        dims[i] = i < n ? lr_lei32(b + v + 4u * i) : 1;
    }
    return n;
}

uint32_t lr_tensor_shape(const lr_model *m, uint32_t id, int32_t dims[LR_MAX_RANK])
{
    return read_dims(m->blob, lr_vec_table(m->blob, m->tensors, id), LR_TENSOR_SHAPE, dims);
}

void lr_read_const(const lr_model *m, uint32_t id, lr_const *c)
{
    const unsigned char *b = m->blob;
    uint32_t t = lr_vec_table(b, m->constants, id);
    c->dtype = lr_get_u8(b, t, LR_CONSTANT_DTYPE, LR_DTYPE_F32);
    c->rank = read_dims(b, t, LR_CONSTANT_SHAPE, c->dims);
    c->f32 = lr_get_vec(b, t, LR_CONSTANT_F32, &c->n_f32);
    c->f16 = lr_get_vec(b, t, LR_CONSTANT_F16, &c->n_f16);
}

void lr_read_codebook(const lr_model *m, uint32_t id, lr_codebook *cb)
{
    const unsigned char *b = m->blob;
    uint32_t t = lr_vec_table(b, m->codebooks, id);
    cb->kh = lr_get_i32(b, t, LR_CODEBOOK_KERNEL_H, 0);
    cb->kw = lr_get_i32(b, t, LR_CODEBOOK_KERNEL_W, 0);
    cb->k = lr_get_i32(b, t, LR_CODEBOOK_SIZE, 0);
    cb->dtype = lr_get_u8(b, t, LR_CODEBOOK_DTYPE, LR_DTYPE_F32);
    cb->f32 = lr_get_vec(b, t, LR_CODEBOOK_F32, &cb->n_f32);
    cb->f16 = lr_get_vec(b, t, LR_CODEBOOK_F16, &cb->n_f16);
}

void lr_read_linrep(const lr_model *m, uint32_t table, lr_linrep *lr)
{
    const unsigned char *b = m->blob;
    lr->codebook = lr_get_i32(b, table, LR_LIN_REP_CODEBOOK, 0);
    lr->bits = lr_get_u8(b, table, LR_LIN_REP_INDEX_BITS, 0u);
    lr->idx = lr_get_vec(b, table, LR_LIN_REP_INDICES, &lr->n_idx);
    lr->a = lr_get_vec(b, table, LR_LIN_REP_A, &lr->n_a);
    lr->b = lr_get_vec(b, table, LR_LIN_REP_B, &lr->n_b);
}

lr_values lr_const_values(const lr_model *m, const lr_const *c)
{
    lr_values v;
    v.f16 = c->dtype == LR_DTYPE_F16;
    v.p = m->blob + (v.f16 ? c->f16 : c->f32);
    return v;
}

lr_values lr_codebook_values(const lr_model *m, const lr_codebook *cb)
{
    lr_values v;
    v.f16 = cb->dtype == LR_DTYPE_F16;
    v.p = m->blob + (v.f16 ? cb->f16 : cb->f32);
    return v;
}
