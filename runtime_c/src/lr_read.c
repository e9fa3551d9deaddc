/*
 * lr_read.c -- the reader: decode tensors, ops and codebooks of a blob whose structure
 * lr_verify_structure accepted. No bounds checks here (verify once, then read): every position it
 * follows was checked to lie inside the blob, with room for the field or vector it names.
 */
#include "kernels/lr_kernels.h"

int32_t lr_op_input(const lr_model *m, const lr_op *op, uint32_t i)
{
    return op->inputs ? lr_lei32(m->blob + op->inputs + 4u * i) : (int32_t)op->index;
}

void lr_read_op(const lr_model *m, uint32_t k, lr_op *op)
{
    const unsigned char *b = m->blob;
    uint32_t t = lr_vec_table(b, m->ops, k);
    op->index = k;
    op->type = lr_get_u8(b, t, LR_OP_TYPE, 0u);
    op->name = lr_get_ref(b, t, LR_OP_NAME);
    op->inputs = lr_get_vec(b, t, LR_OP_INPUTS, &op->n_inputs);
    if (op->inputs == 0u) {
        op->n_inputs = 1u; /* absent: the previous op's result */
    }
    op->output = (int32_t)k + 1;
    op->activation = lr_get_u8(b, t, LR_OP_ACTIVATION, LR_ACTIVATION_NONE);
    op->kh = lr_get_i16(b, t, LR_OP_KERNEL_H, LR_OP_KERNEL_H_DEFAULT);
    op->kw = lr_get_i16(b, t, LR_OP_KERNEL_W, LR_OP_KERNEL_W_DEFAULT);
    op->sh = lr_get_i16(b, t, LR_OP_STRIDE_H, LR_OP_STRIDE_H_DEFAULT);
    op->sw = lr_get_i16(b, t, LR_OP_STRIDE_W, LR_OP_STRIDE_W_DEFAULT);
    op->pt = lr_get_i16(b, t, LR_OP_PAD_TOP, 0);
    op->pl = lr_get_i16(b, t, LR_OP_PAD_LEFT, 0);
    op->pb = lr_get_i16(b, t, LR_OP_PAD_BOTTOM, 0);
    op->pr = lr_get_i16(b, t, LR_OP_PAD_RIGHT, 0);
    op->dh = lr_get_i16(b, t, LR_OP_DILATION_H, LR_OP_DILATION_H_DEFAULT);
    op->dw = lr_get_i16(b, t, LR_OP_DILATION_W, LR_OP_DILATION_W_DEFAULT);
    op->groups = lr_get_i32(b, t, LR_OP_GROUPS, LR_OP_GROUPS_DEFAULT);
    op->out_ch = 0;
    if (k + 1u < m->n_tensors) { /* verify_semantics refuses blobs without tensor k + 1 first */
        int32_t dims[LR_MAX_RANK];
        (void)lr_tensor_shape(m, k + 1u, dims);
        op->out_ch = dims[0];
    }
    op->count_include_pad = lr_get_u8(b, t, LR_OP_COUNT_INCLUDE_PAD, LR_OP_COUNT_INCLUDE_PAD_DEFAULT) != 0u;
    op->alpha = lr_get_f32(b, t, LR_OP_ALPHA, 0.0f);
    op->beta = lr_get_f32(b, t, LR_OP_BETA, 0.0f);
    op->mode = lr_get_u8(b, t, LR_OP_MODE, 0u);
    op->start = lr_get_i32(b, t, LR_OP_START, 0);
    op->dtype = lr_get_u8(b, t, LR_OP_DTYPE, LR_OP_DTYPE_DEFAULT);
    op->w32 = lr_get_vec(b, t, LR_OP_WEIGHT_F32, &op->n_w32);
    op->w16 = lr_get_vec(b, t, LR_OP_WEIGHT_F16, &op->n_w16);
    op->b32 = lr_get_vec(b, t, LR_OP_BIAS_F32, &op->n_b32);
    op->b16 = lr_get_vec(b, t, LR_OP_BIAS_F16, &op->n_b16);
    op->w8 = lr_get_vec(b, t, LR_OP_WEIGHT_I8, &op->n_w8);
    op->ws = lr_get_vec(b, t, LR_OP_WEIGHT_SCALE, &op->n_ws);
    op->linrep = (lr_field(b, t, LR_OP_INDICES) != 0u || lr_field(b, t, LR_OP_AB) != 0u ||
                  lr_field(b, t, LR_OP_AB_Q) != 0u || lr_field(b, t, LR_OP_A_SCALE) != 0u ||
                  lr_field(b, t, LR_OP_B_SCALE) != 0u || lr_field(b, t, LR_OP_AB_BITS) != 0u ||
                  lr_field(b, t, LR_OP_KERNEL_MASK) != 0u) ? t : 0u;
    op->bi32 = lr_get_vec(b, t, LR_OP_BIAS_I32, &op->n_bi32);
    op->mult = lr_get_vec(b, t, LR_OP_MULTIPLIER, &op->n_mult);
    op->shift = lr_get_vec(b, t, LR_OP_SHIFT, &op->n_shift);
    op->bexp = lr_get_vec(b, t, LR_OP_B_EXPONENT, &op->n_bexp);
    op->qp = lr_get_vec(b, t, LR_OP_QPARAMS, &op->n_qp);
    op->act_min = lr_s8((unsigned char)lr_get_u8(b, t, LR_OP_ACT_MIN, 0x80u));
    op->act_max = lr_s8((unsigned char)lr_get_u8(b, t, LR_OP_ACT_MAX, 0x7Fu));
    op->v4 = (lr_field(b, t, LR_OP_BIAS_I32) | lr_field(b, t, LR_OP_MULTIPLIER) | lr_field(b, t, LR_OP_SHIFT) |
              lr_field(b, t, LR_OP_ACT_MIN) | lr_field(b, t, LR_OP_ACT_MAX) | lr_field(b, t, LR_OP_B_EXPONENT) |
              lr_field(b, t, LR_OP_QPARAMS)) != 0u;
}

uint32_t lr_tensor_shape(const lr_model *m, uint32_t id, int32_t dims[LR_MAX_RANK])
{
    const unsigned char *p = m->blob + m->tensors + LR_SHAPE_SIZE * id;
    dims[0] = lr_lei32(p + LR_SHAPE_C_OFFSET);
    dims[1] = (int32_t)lr_le16(p + LR_SHAPE_H_OFFSET);
    dims[2] = (int32_t)lr_le16(p + LR_SHAPE_W_OFFSET);
    if (dims[1] == 0 && dims[2] == 0) {
        dims[1] = dims[2] = 1;
        return 1u; /* a flat [F] tensor */
    }
    return 3u;
}

uint32_t lr_tensor_numel(const lr_model *m, uint32_t id)
{
    int32_t d[LR_MAX_RANK];
    uint32_t n = 1u, i;
    const uint32_t rank = lr_tensor_shape(m, id, d);
    for (i = 0; i < rank; i++) {
        n *= (uint32_t)d[i]; /* verified: <= LR_MAX_NUMEL */
    }
    return n;
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
    cb->i8 = lr_get_vec(b, t, LR_CODEBOOK_I8, &cb->n_i8);
    cb->v4 = (lr_field(b, t, LR_CODEBOOK_I8) | lr_field(b, t, LR_CODEBOOK_SCALE)) != 0u;
}

void lr_read_linrep(const lr_model *m, uint32_t table, lr_linrep *lr)
{
    const unsigned char *b = m->blob;
    lr->codebook = lr_get_i32(b, table, LR_OP_CODEBOOK, 0);
    lr->bits = lr_get_u8(b, table, LR_OP_INDEX_BITS, 0u);
    lr->idx = lr_get_vec(b, table, LR_OP_INDICES, &lr->n_idx);
    lr->ab = lr_get_vec(b, table, LR_OP_AB, &lr->n_ab);
    lr->ab_bits = lr_get_u8(b, table, LR_OP_AB_BITS, 0u);
    lr->abq = lr_get_vec(b, table, LR_OP_AB_Q, &lr->n_abq);
    lr->as = lr_get_vec(b, table, LR_OP_A_SCALE, &lr->n_as);
    lr->bs = lr_get_vec(b, table, LR_OP_B_SCALE, &lr->n_bs);
    lr->mask = lr_get_vec(b, table, LR_OP_KERNEL_MASK, &lr->n_mask);
}

static lr_values values(const lr_model *m, uint32_t dtype, uint32_t f32, uint32_t f16)
{
    lr_values v;
    v.f16 = dtype == LR_DTYPE_F16;
    v.i8 = 0u;
    v.p = (v.f16 ? f16 : f32) ? m->blob + (v.f16 ? f16 : f32) : NULL;
    return v;
}

lr_values lr_op_weight(const lr_model *m, const lr_op *op)
{
    lr_values v;
    if (op->dtype == LR_DTYPE_I8) {
        v.p = op->w8 ? m->blob + op->w8 : NULL;
        v.f16 = 0u;
        v.i8 = 1u;
        return v;
    }
    return values(m, op->dtype, op->w32, op->w16);
}

lr_values lr_op_bias(const lr_model *m, const lr_op *op)
{
    return values(m, op->dtype == LR_DTYPE_I8 ? LR_DTYPE_F32 : op->dtype, op->b32, op->b16);
}

lr_values lr_codebook_values(const lr_model *m, const lr_codebook *cb)
{
    return values(m, cb->dtype, cb->f32, cb->f16);
}

void lr_op_geom(const lr_model *m, const lr_op *op, lr_geom *g)
{
    int32_t in[LR_MAX_RANK], out[LR_MAX_RANK];
    const int conv = op->type == LR_OP_TYPE_CONV2D || op->type == LR_OP_TYPE_LINREP_CONV2D ||
                     op->type == LR_OP_TYPE_CONV_TRANSPOSE2D;
    (void)lr_tensor_shape(m, (uint32_t)lr_op_input(m, op, 0u), in);
    (void)lr_tensor_shape(m, (uint32_t)op->output, out);
    g->c = in[0];
    g->h = in[1];
    g->w = in[2];
    g->oc = out[0];
    g->oh = out[1];
    g->ow = out[2];
    g->groups = conv ? op->groups : 1; /* verified for convs: divides c and oc */
    g->cin_g = g->c / g->groups;
    g->cout_g = g->oc / g->groups;
    g->kh = op->kh;
    g->kw = op->kw;
    g->sh = op->sh;
    g->sw = op->sw;
    g->dh = op->dh;
    g->dw = op->dw;
    g->pt = op->pt;
    g->pl = op->pl;
    g->pb = op->pb;
    g->pr = op->pr;
}

void lr_op_dense_params(const lr_model *m, const lr_op *op, lr_dense_params *p)
{
    p->w = lr_op_weight(m, op);
    p->scale.p = op->dtype == LR_DTYPE_I8 ? m->blob + op->ws : NULL;
    p->scale.f16 = p->scale.i8 = 0u;
    p->n_scale = op->dtype == LR_DTYPE_I8 ? op->n_ws : 0u;
    p->bias = lr_op_bias(m, op);
}

void lr_op_linrep_params(const lr_model *m, const lr_op *op, lr_linrep_params *p)
{
    lr_codebook cb;
    p->blob = m->blob;
    lr_read_linrep(m, op->linrep, &p->lr);
    lr_read_codebook(m, (uint32_t)p->lr.codebook, &cb);
    p->tmpl = lr_codebook_values(m, &cb);
    p->k = (uint32_t)cb.k;
    p->bias = lr_op_bias(m, op);
}

void lr_op_requant_s8(const lr_model *m, const lr_op *op, lr_requant_s8 *q)
{
    q->mult = m->blob + op->mult;
    q->shift = m->blob + op->shift;
    q->n = op->n_mult;
    q->zp_out = lr_quant_zp(m, (uint32_t)op->output);
    q->act_min = op->act_min;
    q->act_max = op->act_max;
}

void lr_op_dense_s8_params(const lr_model *m, const lr_op *op, lr_dense_s8_params *p)
{
    p->w = m->blob + op->w8;
    p->bias = op->bi32 ? m->blob + op->bi32 : NULL;
    p->in_offset = -lr_quant_zp(m, (uint32_t)lr_op_input(m, op, 0u));
    lr_op_requant_s8(m, op, &p->rq);
}

void lr_op_linrep_s8_params(const lr_model *m, const lr_op *op, lr_linrep_s8_params *p)
{
    lr_codebook cb;
    p->blob = m->blob;
    lr_read_linrep(m, op->linrep, &p->lr);
    lr_read_codebook(m, (uint32_t)p->lr.codebook, &cb);
    p->tmpl = m->blob + cb.i8;
    p->k = (uint32_t)cb.k;
    p->bexp = m->blob + op->bexp;
    p->bias = op->bi32 ? m->blob + op->bi32 : NULL;
    p->in_offset = -lr_quant_zp(m, (uint32_t)lr_op_input(m, op, 0u));
    lr_op_requant_s8(m, op, &p->rq);
}
