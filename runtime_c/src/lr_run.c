/*
 * lr_run.c -- the run path: find (or make) the plan at the arena head, then run the ops in order,
 * each decoded from the verified blob into its kernel's arguments (kernels/lr_kernels.h).
 *
 * Arena layout (16-byte aligned):
 *   [plan: lr_model.plan_bytes][activation region: tensors and each op's scratch, offsets from the plan]
 * The plan is made by the first run on an arena (or lr_arena_prepare) and found by later runs
 * (lr_plan.c: the run plan). The blob was verified by lr_init: nothing here checks it again.
 * Each op's kernel scratch is its own (offset and size from the plan: memory no tensor live during the op
 * uses). LinRep convs run the template-reuse kernel when the plan's bit for the op says so (the path in
 * force, lr_set_conv_path, and the RAM limit, lr_set_ram_limit); every other conv runs the direct kernels.
 */
#include <math.h>

#include "kernels/lr_kernels.h"

typedef struct run_ctx {
    const lr_model *m;
    const uint32_t *offsets; /* per tensor, in the activation region */
    const uint32_t *slots;   /* per op: its scratch's offset in the activation region, its bytes */
    const uint32_t *reuse;   /* per op: bit set when the op runs the reuse kernel */
    unsigned char *act;
    float *scratch;          /* the running op's scratch */
    uint32_t scratch_bytes;
} run_ctx;

static float *tensor(const run_ctx *r, int32_t id)
{
    return (float *)(void *)(r->act + r->offsets[id]);
}

static uint32_t numel(const int32_t *dims, uint32_t rank)
{
    uint32_t n = 1u, i;
    for (i = 0; i < rank; i++) {
        n *= (uint32_t)dims[i];
    }
    return n;
}

/* LinRep conv op runs the template-reuse kernel: the plan's bit, or the only path compiled in (LR_LINREP_PATHS;
 * constant then, so the path left out is not linked). */
static int runs_reuse(const run_ctx *r, const lr_op *op)
{
    return LR_REUSE_ON && (!LR_DIRECT_ON || ((r->reuse[op->index >> 5] >> (op->index & 31u)) & 1u));
}

static void conv(const run_ctx *r, const lr_op *op, const float *x, float *y)
{
    lr_geom g;
    lr_op_geom(r->m, op, &g);
    if (op->type == LR_OP_TYPE_LINREP_CONV2D) {
        lr_linrep_params p;
        lr_op_linrep_params(r->m, op, &p);
        if (runs_reuse(r, op)) {
            lr_linrep_conv2d_reuse_f32_ref(&g, x, &p, r->scratch, y);
        } else if (LR_DIRECT_ON) { /* LR_LINREP_PATHS: the paths left out are not linked */
            lr_linrep_conv2d_direct_f32_ref(&g, x, &p, r->scratch, y);
        }
    } else {
        lr_dense_params p;
        lr_op_dense_params(r->m, op, &p);
        lr_conv2d_f32_ref(&g, x, &p, r->scratch, y);
    }
}

#if LR_OP_ON(LR_OP_TYPE_PIXEL_SHUFFLE)
/* PIXEL_SHUFFLE (fp32 and int8, format version 8): the kernel on the depth side's shape (the input for depth to
 * space, modes 0 and 2; the output for space to depth); verified: r >= 1, r * r divides its channels. */
static void pixel_shuffle(const lr_model *m, const lr_op *op, const void *x, size_t elem, void *y)
{
    int32_t d[LR_MAX_RANK];
    const uint32_t r = (uint32_t)op->sh;
    (void)lr_tensor_shape(m, (uint32_t)((op->mode & 1u) == 0u ? lr_op_input(m, op, 0u) : op->output), d);
    lr_pixel_shuffle_ref(x, (uint32_t)d[0] / (r * r), (uint32_t)d[1], (uint32_t)d[2], r, op->mode, elem, y);
}
#endif

static void run_op(const run_ctx *r, const lr_op *op)
{
    const lr_model *m = r->m;
    int32_t in[LR_MAX_RANK];
    const int32_t in0 = lr_op_input(m, op, 0u);
    const uint32_t rank = lr_tensor_shape(m, (uint32_t)in0, in);
    const uint32_t n = numel(in, rank);
    const float *x = tensor(r, in0);
    float *y = tensor(r, op->output);
    lr_geom g;
    uint32_t i;

    switch (op->type) {
    case LR_OP_TYPE_CONV2D:
    case LR_OP_TYPE_LINREP_CONV2D:
        if (!(LR_OP_ON(LR_OP_TYPE_CONV2D) || LR_OP_ON(LR_OP_TYPE_LINREP_CONV2D))) {
            break; /* left out of this build (LR_OPS) */
        }
        conv(r, op, x, y);
        break;
    case LR_OP_TYPE_LINEAR:
        if (!LR_OP_ON(LR_OP_TYPE_LINEAR)) {
            break; /* left out of this build (LR_OPS) */
        }
    {
        lr_dense_params p;
        lr_op_dense_params(m, op, &p);
        lr_linear_f32_ref(x, (uint32_t)in[0], (uint32_t)op->out_ch, &p, y);
    }
        break;
    case LR_OP_TYPE_RELU:
        if (!LR_OP_ON(LR_OP_TYPE_RELU)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_relu_f32_ref(x, n, y);
        break;
    case LR_OP_TYPE_RELU6:
        if (!LR_OP_ON(LR_OP_TYPE_RELU6)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_relu6_f32_ref(x, n, y);
        break;
    case LR_OP_TYPE_LEAKY_RELU:
        if (!LR_OP_ON(LR_OP_TYPE_LEAKY_RELU)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_leaky_relu_f32_ref(x, n, op->alpha, y);
        break;
    case LR_OP_TYPE_PRELU:
        if (!LR_OP_ON(LR_OP_TYPE_PRELU)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_prelu_f32_ref(x, (uint32_t)in[0], n / (uint32_t)in[0], lr_op_weight(m, op),
                         op->dtype == LR_DTYPE_F16 ? op->n_w16 : op->n_w32, y);
        break;
    case LR_OP_TYPE_SIGMOID:
        if (!LR_OP_ON(LR_OP_TYPE_SIGMOID)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_sigmoid_f32_ref(x, n, y);
        break;
    case LR_OP_TYPE_HARDSWISH:
        if (!LR_OP_ON(LR_OP_TYPE_HARDSWISH)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_hardswish_f32_ref(x, n, y);
        break;
    case LR_OP_TYPE_MAX_POOL2D:
        if (!LR_OP_ON(LR_OP_TYPE_MAX_POOL2D)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_op_geom(m, op, &g);
        lr_max_pool2d_f32_ref(&g, x, y);
        break;
    case LR_OP_TYPE_AVG_POOL2D:
        if (!LR_OP_ON(LR_OP_TYPE_AVG_POOL2D)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_op_geom(m, op, &g);
        lr_avg_pool2d_f32_ref(&g, op->count_include_pad != 0u, x, y);
        break;
    case LR_OP_TYPE_ADAPTIVE_AVG_POOL2D:
        if (!LR_OP_ON(LR_OP_TYPE_ADAPTIVE_AVG_POOL2D)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_op_geom(m, op, &g);
        lr_adaptive_avg_pool2d_f32_ref(&g, x, y);
        break;
    case LR_OP_TYPE_ADD:
    case LR_OP_TYPE_MUL:
        if (!(LR_OP_ON(LR_OP_TYPE_ADD) || LR_OP_ON(LR_OP_TYPE_MUL))) {
            break; /* left out of this build (LR_OPS) */
        }
    {
        int32_t d[LR_MAX_RANK];
        const int32_t id = lr_op_input(m, op, 1u);
        const float *b = tensor(r, id);
        const int bcast = numel(d, lr_tensor_shape(m, (uint32_t)id, d)) != n; /* one value per channel */
        if (op->type == LR_OP_TYPE_ADD) {
            if (bcast) {
                lr_add_channel_f32_ref(x, b, (uint32_t)in[0], n / (uint32_t)in[0], y);
            } else {
                lr_add_f32_ref(x, b, n, y);
            }
        } else if (LR_OP_ON(LR_OP_TYPE_MUL) && bcast && lr_mul_per_pixel(m, op)) { /* the gate times each channel */
            const uint32_t inner = n / (uint32_t)in[0];
            for (i = 0u; i < (uint32_t)in[0]; i++) {
                lr_mul_f32_ref(x + (size_t)i * inner, b, inner, y + (size_t)i * inner);
            }
        } else if (bcast) {
            lr_mul_channel_f32_ref(x, b, (uint32_t)in[0], n / (uint32_t)in[0], y);
        } else {
            lr_mul_f32_ref(x, b, n, y);
        }
    }
        break;
    case LR_OP_TYPE_CONCAT:
        if (!LR_OP_ON(LR_OP_TYPE_CONCAT)) {
            break; /* left out of this build (LR_OPS) */
        }
        for (i = 0; i < op->n_inputs; i++) {
            const int32_t id = lr_op_input(m, op, i);
            int32_t d[LR_MAX_RANK];
            const uint32_t k = numel(d, lr_tensor_shape(m, (uint32_t)id, d));
            lr_concat_f32_ref(tensor(r, id), k, y);
            y += k;
        }
        break;
    case LR_OP_TYPE_RESHAPE:
        if (!LR_OP_ON(LR_OP_TYPE_RESHAPE)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_reshape_f32_ref(x, n, y);
        break;
    case LR_OP_TYPE_SOFTMAX:
        if (!LR_OP_ON(LR_OP_TYPE_SOFTMAX)) {
            break; /* left out of this build (LR_OPS) */
        }
        if (rank == 1u) {
            lr_softmax_f32_ref(x, n, y);
        } else {
            lr_softmax_channel_f32_ref(x, (uint32_t)in[0], n / (uint32_t)in[0], y);
        }
        break;
    case LR_OP_TYPE_TANH:
        if (!LR_OP_ON(LR_OP_TYPE_TANH)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_tanh_f32_ref(x, n, y);
        break;
    case LR_OP_TYPE_HARDSIGMOID:
        if (!LR_OP_ON(LR_OP_TYPE_HARDSIGMOID)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_hardsigmoid_f32_ref(x, n, y);
        break;
    case LR_OP_TYPE_SILU:
        if (!LR_OP_ON(LR_OP_TYPE_SILU)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_silu_f32_ref(x, n, y);
        break;
    case LR_OP_TYPE_CLAMP:
        if (!LR_OP_ON(LR_OP_TYPE_CLAMP)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_clamp_f32_ref(x, n, op->alpha, op->beta, y);
        break;
    case LR_OP_TYPE_RESIZE:
        if (!LR_OP_ON(LR_OP_TYPE_RESIZE)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_op_geom(m, op, &g);
        if (op->mode == 0u || op->mode == 3u) { /* nearest: integer multiples, (version 8) any size */
            lr_resize_nearest_f32_ref(&g, op->mode == 3u, x, y);
        } else {
            lr_resize_bilinear_f32_ref(&g, op->mode == 2u, x, y);
        }
        break;
    case LR_OP_TYPE_PAD:
        if (!LR_OP_ON(LR_OP_TYPE_PAD)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_op_geom(m, op, &g);
        if (op->mode != 0u) {
            lr_pad_edge_ref(&g, op->mode, x, sizeof(float), y);
        } else {
            lr_pad_f32_ref(&g, op->alpha, x, y);
        }
        break;
    case LR_OP_TYPE_SLICE:
        if (!LR_OP_ON(LR_OP_TYPE_SLICE)) {
            break; /* left out of this build (LR_OPS) */
        }
    {
        int32_t d[LR_MAX_RANK];
        const uint32_t k = numel(d, lr_tensor_shape(m, (uint32_t)op->output, d));
        lr_slice_f32_ref(x + (uint32_t)op->start * (n / (uint32_t)in[0]), k, y);
    }
        break;
    case LR_OP_TYPE_TRANSPOSE_HWC:
        if (!LR_OP_ON(LR_OP_TYPE_TRANSPOSE_HWC)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_transpose_hwc_f32_ref(x, (uint32_t)in[0], n / (uint32_t)in[0], y);
        break;
#if LR_OP_ON(LR_OP_TYPE_CHANNEL_SHUFFLE) /* no case label otherwise: other builds' switches unchanged */
    case LR_OP_TYPE_CHANNEL_SHUFFLE:
        lr_channel_shuffle_ref(x, (uint32_t)in[0], (uint32_t)op->groups,
                               (size_t)(n / (uint32_t)in[0]) * sizeof(float), y);
        break;
#endif
#if LR_OP_ON(LR_OP_TYPE_PIXEL_SHUFFLE) /* no case label otherwise: other builds' switches unchanged */
    case LR_OP_TYPE_PIXEL_SHUFFLE:
        pixel_shuffle(m, op, x, sizeof(float), y);
        break;
#endif
#if LR_OP_ON(LR_OP_TYPE_UNARY) /* no case label otherwise: other builds' switches unchanged */
    case LR_OP_TYPE_UNARY:
        lr_unary_f32_ref(x, n, op->mode, op->alpha, op->beta, y);
        break;
#endif
#if LR_OP_ON(LR_OP_TYPE_SUB) /* no case label otherwise: other builds' switches unchanged */
    case LR_OP_TYPE_SUB: {
        int32_t d[LR_MAX_RANK];
        const int32_t id = lr_op_input(m, op, 1u);
        if (numel(d, lr_tensor_shape(m, (uint32_t)id, d)) != n) { /* one value per channel (verified) */
            lr_sub_channel_f32_ref(x, tensor(r, id), (uint32_t)in[0], n / (uint32_t)in[0], y);
        } else {
            lr_sub_f32_ref(x, tensor(r, id), n, y);
        }
        break;
    }
#endif
    case LR_OP_TYPE_AFFINE:
        if (!LR_OP_ON(LR_OP_TYPE_AFFINE)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_affine_f32_ref(x, (uint32_t)in[0], n / (uint32_t)in[0], lr_op_weight(m, op), lr_op_bias(m, op), y);
        break;
    case LR_OP_TYPE_CONV_TRANSPOSE2D:
        if (!LR_OP_ON(LR_OP_TYPE_CONV_TRANSPOSE2D)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_op_geom(m, op, &g);
        if (op->linrep != 0u) { /* LinRep kernels, rebuilt one input channel at a time */
            lr_linrep_params p;
            lr_op_linrep_params(m, op, &p);
            lr_linrep_conv_transpose2d_f32_ref(&g, x, &p, r->scratch, y);
        } else {
            lr_dense_params p;
            lr_op_dense_params(m, op, &p);
            lr_conv_transpose2d_f32_ref(&g, x, &p, y);
        }
        break;
    default: /* unreachable: lr_init refused unknown types */
        break;
    }
    if (op->activation != LR_ACTIVATION_NONE) { /* fused: applied in place to the result */
        int32_t d[LR_MAX_RANK];
        const uint32_t k = numel(d, lr_tensor_shape(m, (uint32_t)op->output, d));
        y = tensor(r, op->output);
        if (op->activation == LR_ACTIVATION_RELU) {
            lr_relu_f32_ref(y, k, y);
        } else {
            lr_relu6_f32_ref(y, k, y);
        }
    }
}

/* ---- int8 models: integer ops only ---------------------------------------------------------------- */

static int8_t *tensor_s8(const run_ctx *r, int32_t id)
{
    return (int8_t *)(void *)(r->act + r->offsets[id]);
}

#if LR_ACT_TABLE_ON
/* Whether op runs by table (lr_table_s8_opt): lr_op_act_table, and the plan gave it the table's scratch. */
static int by_table(const run_ctx *r, const lr_op *op)
{
    return r->scratch_bytes >= LR_ACT_S8_TAB_BYTES && lr_op_act_table(r->m, op);
}

/* The 256 int8s in byte order in the op's scratch: the reference run on them in place makes the table. */
static int8_t *ramp(const run_ctx *r)
{
    int8_t *const t = (int8_t *)(void *)r->scratch;
    uint32_t i;
    for (i = 0u; i < LR_ACT_S8_TAB_BYTES; i++) {
        t[i] = (int8_t)(uint8_t)i;
    }
    return t;
}
#endif

/* PRELU's constants ([identity, alpha]; qparams [zp_alpha, slopes], verified: 1 or c slopes). */
static void prelu_params(const lr_model *m, const lr_op *op, lr_prelu_s8_params *p)
{
    p->zp_in = lr_quant_zp(m, (uint32_t)lr_op_input(m, op, 0u));
    p->zp_out = lr_quant_zp(m, (uint32_t)op->output);
    p->mult_identity = lr_lei32(m->blob + op->mult);
    p->shift_identity = lr_s8(m->blob[op->shift]);
    p->mult_alpha = lr_lei32(m->blob + op->mult + 4u);
    p->shift_alpha = lr_s8(m->blob[op->shift + 1u]);
    p->zp_alpha = lr_lei32(m->blob + op->qp);
    p->n_alpha = op->n_qp - 1u;
    p->alpha = m->blob + op->qp + 4u;
}

/* MUL's kernel in this build: the optimised one with the elementwise kind (LR_OPT_ADD), else the reference. */
#if LR_OPT_ON(LR_OPT_ADD)
#define LR_MUL_S8 lr_mul_s8_opt
#else
#define LR_MUL_S8 lr_mul_s8_ref
#endif

#if LR_ACT_TABLE_ON
/* The ops with a table per channel (lr_op_act_table): MUL by a gate of one value per channel (params: its
 * lr_mul_s8_params, gate: the gate tensor), AFFINE (lr_dense_s8_params) and PRELU with a slope per channel
 * (lr_prelu_s8_params). Channel ch's table is the op's own kernel run on the ramp with that channel's constants
 * alone; the channel's `inner` values are then mapped through it. */
static void channel_tables(const run_ctx *r, const lr_op *op, const void *params, const int8_t *gate, const int8_t *x,
                           uint32_t c, uint32_t inner, int8_t *y)
{
    uint32_t ch;
    for (ch = 0u; ch < c; ch++) {
        int8_t *const t = ramp(r);
        if (LR_OP_ON(LR_OP_TYPE_MUL) && op->type == LR_OP_TYPE_MUL) {
            LR_MUL_S8(t, gate + ch, 1u, LR_ACT_S8_TAB_BYTES, 1, (const lr_mul_s8_params *)params, t);
        } else if (LR_OP_ON(LR_OP_TYPE_AFFINE) && op->type == LR_OP_TYPE_AFFINE) {
            lr_dense_s8_params q = *(const lr_dense_s8_params *)params;
            q.w += ch;
            q.bias = q.bias != NULL ? q.bias + 4u * ch : NULL;
            if (q.rq.n != 1u) {
                q.rq.mult += 4u * ch;
                q.rq.shift += ch;
                q.rq.n = 1u;
            }
            lr_affine_s8_ref(t, 1u, LR_ACT_S8_TAB_BYTES, &q, t);
        } else if (LR_OP_ON(LR_OP_TYPE_PRELU)) {
            lr_prelu_s8_params q = *(const lr_prelu_s8_params *)params;
            q.n_alpha = 1u;
            q.alpha += 4u * ch;
            lr_prelu_s8_ref(t, 1u, LR_ACT_S8_TAB_BYTES, &q, t);
        }
        lr_table_s8_opt(x + (size_t)ch * inner, inner, t, y + (size_t)ch * inner);
    }
}
#endif

/* MUL, AFFINE, RESIZE and CONV_TRANSPOSE2D (dense or LinRep) of an int8 model (docs/INTEGER.md section 2, 3). */
static void run_geo_s8(const run_ctx *r, const lr_op *op)
{
    const lr_model *m = r->m;
    int32_t in[LR_MAX_RANK];
    const int32_t in0 = lr_op_input(m, op, 0u);
    const uint32_t n = numel(in, lr_tensor_shape(m, (uint32_t)in0, in));
    const int8_t *x = tensor_s8(r, in0);
    int8_t *y = tensor_s8(r, op->output);
    lr_geom g;
    switch (op->type) {
    case LR_OP_TYPE_MUL: {
        if (!LR_OP_ON(LR_OP_TYPE_MUL)) {
            break; /* left out of this build (LR_OPS) */
        }
        int32_t d[LR_MAX_RANK];
        const int32_t in1 = lr_op_input(m, op, 1u);
        lr_mul_s8_params p;
        p.zp0 = lr_quant_zp(m, (uint32_t)in0);
        p.zp1 = lr_quant_zp(m, (uint32_t)in1);
        p.zp_out = lr_quant_zp(m, (uint32_t)op->output);
        p.mult = lr_lei32(m->blob + op->mult);
        p.shift = lr_s8(m->blob[op->shift]);
        p.act_min = op->act_min;
        p.act_max = op->act_max;
#if LR_ACT_TABLE_ON
        if (by_table(r, op)) { /* a gate per channel (lr_op_act_table): a table per channel, its gate fixed */
            channel_tables(r, op, &p, tensor_s8(r, in1), x, (uint32_t)in[0], n / (uint32_t)in[0], y);
            break;
        }
#endif
        if (lr_mul_per_pixel(m, op)) { /* one value per pixel (version 8): the same gate times each channel */
            const uint32_t inner = n / (uint32_t)in[0];
            uint32_t ch;
            for (ch = 0u; ch < (uint32_t)in[0]; ch++) {
                LR_MUL_S8(x + (size_t)ch * inner, tensor_s8(r, in1), 1u, inner, 0, &p, y + (size_t)ch * inner);
            }
            break;
        }
        LR_MUL_S8(x, tensor_s8(r, in1), (uint32_t)in[0], n / (uint32_t)in[0],
                  numel(d, lr_tensor_shape(m, (uint32_t)in1, d)) != n, &p, y);
        break;
    }
    case LR_OP_TYPE_AFFINE: {
        if (!LR_OP_ON(LR_OP_TYPE_AFFINE)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_dense_s8_params p;
        lr_op_dense_s8_params(m, op, &p);
#if LR_ACT_TABLE_ON
        if (by_table(r, op)) { /* a table per channel, made with that channel's weight, bias and multiplier */
            channel_tables(r, op, &p, NULL, x, (uint32_t)in[0], n / (uint32_t)in[0], y);
            break;
        }
#endif
        lr_affine_s8_ref(x, (uint32_t)in[0], n / (uint32_t)in[0], &p, y);
        break;
    }
    case LR_OP_TYPE_RESIZE:
        if (!LR_OP_ON(LR_OP_TYPE_RESIZE)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_op_geom(m, op, &g);
        if (op->mode == 0u || op->mode == 3u) { /* nearest: integer multiples, (version 8) any size */
            lr_resize_nearest_s8_ref(&g, op->mode == 3u, x, y);
        } else {
#if LR_OPT_ON(LR_OPT_CONV)
            lr_resize_bilinear_s8_opt(&g, op->mode == 2u, x, y);
#else
            lr_resize_bilinear_s8_ref(&g, op->mode == 2u, x, y);
#endif
        }
        break;
    case LR_OP_TYPE_CONV_TRANSPOSE2D:
        if (!LR_OP_ON(LR_OP_TYPE_CONV_TRANSPOSE2D)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_op_geom(m, op, &g);
        if (op->linrep != 0u) {
            lr_linrep_s8_params p;
            lr_op_linrep_s8_params(m, op, &p);
#if LR_OPT_ON(LR_OPT_LINREP) /* kernels rebuilt once per output channel if given the room, else per tap */
            lr_linrep_conv_transpose2d_s8_opt(&g, x, &p, (int32_t *)(void *)r->scratch, r->scratch_bytes / 4u, y);
#else
            lr_linrep_conv_transpose2d_s8_ref(&g, x, &p, (int32_t *)(void *)r->scratch, y);
#endif
        } else {
            lr_dense_s8_params p;
            lr_op_dense_s8_params(m, op, &p);
#if LR_OPT_ON(LR_OPT_CONV)
            lr_conv_transpose2d_s8_opt(&g, x, &p, (int32_t *)(void *)r->scratch, y);
#else
            lr_conv_transpose2d_s8_ref(&g, x, &p, (int32_t *)(void *)r->scratch, y);
#endif
        }
        break;
    default: /* unreachable: run_op_s8 passes only these */
        break;
    }
}

/* The elementwise activations of an int8 model (docs/INTEGER.md section 6), on the n values of x; the
 * verifier (lr_verify_i8.c) admits only those with an int8 form. */
static void run_activation_s8(const lr_model *m, const lr_op *op, const int8_t *x, uint32_t c, uint32_t n,
                              int8_t *y)
{
    const int32_t zp_in = lr_quant_zp(m, (uint32_t)lr_op_input(m, op, 0u));
    switch (op->type) {
    case LR_OP_TYPE_SILU: { /* [logistic, mul]; qparams [radius] */
        if (!LR_OP_ON(LR_OP_TYPE_SILU)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_silu_s8_params p;
        p.zp_in = zp_in;
        p.zp_out = lr_quant_zp(m, (uint32_t)op->output);
        p.mult_logistic = lr_lei32(m->blob + op->mult);
        p.shift_logistic = lr_s8(m->blob[op->shift]);
        p.radius = lr_lei32(m->blob + op->qp);
        p.mult_mul = lr_lei32(m->blob + op->mult + 4u);
        p.shift_mul = lr_s8(m->blob[op->shift + 1u]);
        lr_silu_s8_ref(x, n, &p, y);
        break;
    }
    case LR_OP_TYPE_PRELU: { /* [identity, alpha]; qparams [zp_alpha, slopes] (verified: 1 or c slopes) */
        if (!LR_OP_ON(LR_OP_TYPE_PRELU)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_prelu_s8_params p;
        prelu_params(m, op, &p);
        lr_prelu_s8_ref(x, c, n / c, &p, y);
        break;
    }
    case LR_OP_TYPE_SIGMOID:
        if (!LR_OP_ON(LR_OP_TYPE_SIGMOID)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_sigmoid_s8_ref(x, n, zp_in, lr_lei32(m->blob + op->mult), lr_s8(m->blob[op->shift]),
                          lr_lei32(m->blob + op->qp), y);
        break;
    case LR_OP_TYPE_RELU:
    case LR_OP_TYPE_RELU6:
    case LR_OP_TYPE_CLAMP: {
        if (!(LR_OP_ON(LR_OP_TYPE_RELU) || LR_OP_ON(LR_OP_TYPE_RELU6) || LR_OP_ON(LR_OP_TYPE_CLAMP))) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_clamp_s8_params p;
        p.requant = op->n_mult == 1u;
        p.zp_in = zp_in;
        p.zp_out = lr_quant_zp(m, (uint32_t)op->output);
        p.mult = p.requant ? lr_lei32(m->blob + op->mult) : 0;
        p.shift = p.requant ? lr_s8(m->blob[op->shift]) : 0;
        p.act_min = op->act_min;
        p.act_max = op->act_max;
        lr_clamp_s8_ref(x, n, &p, y);
        break;
    }
    case LR_OP_TYPE_LEAKY_RELU: { /* [identity, alpha] */
        if (!LR_OP_ON(LR_OP_TYPE_LEAKY_RELU)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_leaky_relu_s8_params p;
        p.zp_in = zp_in;
        p.zp_out = lr_quant_zp(m, (uint32_t)op->output);
        p.mult_identity = lr_lei32(m->blob + op->mult);
        p.shift_identity = lr_s8(m->blob[op->shift]);
        p.mult_alpha = lr_lei32(m->blob + op->mult + 4u);
        p.shift_alpha = lr_s8(m->blob[op->shift + 1u]);
        lr_leaky_relu_s8_ref(x, n, &p, y);
        break;
    }
    case LR_OP_TYPE_TANH:
        if (!LR_OP_ON(LR_OP_TYPE_TANH)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_tanh_s8_ref(x, n, zp_in, lr_lei32(m->blob + op->mult), lr_s8(m->blob[op->shift]), lr_lei32(m->blob + op->qp),
                       y);
        break;
    case LR_OP_TYPE_HARDSWISH: /* [output, reluish] */
    case LR_OP_TYPE_HARDSIGMOID: {
        if (!(LR_OP_ON(LR_OP_TYPE_HARDSWISH) || LR_OP_ON(LR_OP_TYPE_HARDSIGMOID))) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_hardswish_s8_params p;
        p.zp_in = zp_in;
        p.zp_out = lr_quant_zp(m, (uint32_t)op->output);
        p.out_mult = lr_lei32(m->blob + op->mult);
        p.out_exp = lr_s8(m->blob[op->shift]);
        p.rel_mult = lr_lei32(m->blob + op->mult + 4u);
        p.rel_exp = lr_s8(m->blob[op->shift + 1u]);
        if (op->type == LR_OP_TYPE_HARDSWISH) {
            lr_hardswish_s8_ref(x, n, &p, y);
        } else {
            lr_hardsigmoid_s8_ref(x, n, &p, y);
        }
        break;
    }
    default: /* unreachable: lr_init refused ops without an int8 form */
        break;
    }
}

static void run_op_s8(const run_ctx *r, const lr_op *op)
{
    const lr_model *m = r->m;
    int32_t in[LR_MAX_RANK];
    const int32_t in0 = lr_op_input(m, op, 0u);
    const uint32_t rank = lr_tensor_shape(m, (uint32_t)in0, in);
    const uint32_t n = numel(in, rank);
    const int8_t *x = tensor_s8(r, in0);
    int8_t *y = tensor_s8(r, op->output);
    int32_t *scratch = (int32_t *)(void *)r->scratch;
    lr_geom g;
    uint32_t i;

    switch (op->type) {
    case LR_OP_TYPE_CONV2D: {
        if (!LR_OP_ON(LR_OP_TYPE_CONV2D)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_dense_s8_params p;
        lr_op_geom(m, op, &g);
        lr_op_dense_s8_params(m, op, &p);
#if LR_OPT_ON(LR_OPT_CONV) /* the optimised int8 kernels of this build (LR_OPT_KERNELS), else the references */
        lr_conv2d_s8_opt_n(&g, x, &p, scratch, r->scratch_bytes / 4u, y); /* a padded plane if given room */
#else
        lr_conv2d_s8_ref(&g, x, &p, scratch, y);
#endif
        break;
    }
    case LR_OP_TYPE_LINREP_CONV2D: {
        if (!LR_OP_ON(LR_OP_TYPE_LINREP_CONV2D)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_linrep_s8_params p;
        lr_op_geom(m, op, &g);
        lr_op_linrep_s8_params(m, op, &p);
        if (runs_reuse(r, op)) {
#if LR_OPT_ON(LR_OPT_LINREP)
            lr_linrep_conv2d_reuse_s8_opt_n(&g, x, &p, scratch, r->scratch_bytes / 4u, y); /* tiles as given */
#else
            lr_linrep_conv2d_reuse_s8_ref_n(&g, x, &p, scratch, r->scratch_bytes / 4u, y); /* tiles as given */
#endif
        } else if (LR_DIRECT_ON) { /* LR_LINREP_PATHS: the paths left out are not linked */
#if LR_OPT_ON(LR_OPT_LINREP)
            lr_linrep_conv2d_direct_s8_opt(&g, x, &p, scratch, r->scratch_bytes / 4u, y); /* bigger blocks if given more */
#else
            lr_linrep_conv2d_direct_s8_ref(&g, x, &p, scratch, y);
#endif
        }
        break;
    }
    case LR_OP_TYPE_LINEAR: {
        if (!LR_OP_ON(LR_OP_TYPE_LINEAR)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_dense_s8_params p;
        lr_op_dense_s8_params(m, op, &p);
#if LR_OPT_ON(LR_OPT_LINEAR)
        lr_linear_s8_opt(x, (uint32_t)in[0], (uint32_t)op->out_ch, &p, y);
#else
        lr_linear_s8_ref(x, (uint32_t)in[0], (uint32_t)op->out_ch, &p, y);
#endif
        break;
    }
    case LR_OP_TYPE_ADD:
#if LR_OP_ON(LR_OP_TYPE_SUB) /* TFLite's SUB: ADD's integers (no case label otherwise: other builds unchanged) */
    case LR_OP_TYPE_SUB:
#endif
    {
        if (!(LR_OP_ON(LR_OP_TYPE_ADD) || LR_OP_ON(LR_OP_TYPE_SUB))) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_add_s8_params p;
        const int32_t in1 = lr_op_input(m, op, 1u);
        for (i = 0; i < 3u; i++) {
            p.mult[i] = lr_lei32(m->blob + op->mult + 4u * i);
            p.shift[i] = lr_s8(m->blob[op->shift + i]);
        }
        p.zp0 = lr_quant_zp(m, (uint32_t)in0);
        p.zp1 = lr_quant_zp(m, (uint32_t)in1);
        p.zp_out = lr_quant_zp(m, (uint32_t)op->output);
        p.act_min = op->act_min;
        p.act_max = op->act_max;
        {
            int32_t d1[LR_MAX_RANK];
            const uint32_t n1 = numel(d1, lr_tensor_shape(m, (uint32_t)in1, d1));
#if LR_OP_ON(LR_OP_TYPE_SUB)
            if (op->type == LR_OP_TYPE_SUB) { /* equal shapes, or one value per channel (verified) */
                lr_sub_s8_ref(x, tensor_s8(r, in1), n1 != n ? (uint32_t)in[0] : n, n1 != n ? n / (uint32_t)in[0] : 0u,
                              &p, y);
                break;
            }
#endif
            if (n1 != n) { /* one value per channel (verified) */
                lr_add_channel_s8_ref(x, tensor_s8(r, in1), (uint32_t)in[0], n / (uint32_t)in[0], &p, y);
            } else {
#if LR_OPT_ON(LR_OPT_ADD)
                lr_add_s8_opt_n(x, tensor_s8(r, in1), n, &p, (int32_t *)(void *)r->scratch, r->scratch_bytes / 4u, y);
#else
                lr_add_s8_ref(x, tensor_s8(r, in1), n, &p, y);
#endif
            }
        }
        break;
    }
    case LR_OP_TYPE_MAX_POOL2D:
        if (!LR_OP_ON(LR_OP_TYPE_MAX_POOL2D)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_op_geom(m, op, &g);
        lr_max_pool2d_s8_ref(&g, op->act_min, op->act_max, x, y);
        break;
    case LR_OP_TYPE_AVG_POOL2D:
        if (!LR_OP_ON(LR_OP_TYPE_AVG_POOL2D)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_op_geom(m, op, &g);
        lr_avg_pool2d_s8_ref(&g, op->count_include_pad != 0u, lr_quant_zp(m, (uint32_t)in0), op->act_min, op->act_max,
                             x, y);
        break;
    case LR_OP_TYPE_ADAPTIVE_AVG_POOL2D:
        if (!LR_OP_ON(LR_OP_TYPE_ADAPTIVE_AVG_POOL2D)) {
            break; /* left out of this build (LR_OPS) */
        }
        if (LR_TFLITE_MEAN && op->n_mult == 1u) { /* TFLite's MEAN (verified: bins all alike) */
            lr_op_geom(m, op, &g);
            lr_mean_s8_ref(&g, lr_quant_zp(m, (uint32_t)in0), lr_lei32(m->blob + op->mult), lr_s8(m->blob[op->shift]),
                           lr_quant_zp(m, (uint32_t)op->output), op->act_min, op->act_max, x, y);
        } else {
            lr_op_geom(m, op, &g);
            lr_adaptive_avg_pool2d_s8_ref(&g, op->act_min, op->act_max, x, y);
        }
        break;
    case LR_OP_TYPE_SOFTMAX:
        if (!LR_OP_ON(LR_OP_TYPE_SOFTMAX)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_softmax_s8_ref(x, (uint32_t)in[0], n / (uint32_t)in[0], lr_lei32(m->blob + op->mult),
                          lr_s8(m->blob[op->shift]), lr_lei32(m->blob + op->qp), y);
        break;
    case LR_OP_TYPE_SIGMOID:
    case LR_OP_TYPE_HARDSWISH:
    case LR_OP_TYPE_TANH:
    case LR_OP_TYPE_RELU:
    case LR_OP_TYPE_RELU6:
    case LR_OP_TYPE_CLAMP:
    case LR_OP_TYPE_LEAKY_RELU:
    case LR_OP_TYPE_PRELU:
    case LR_OP_TYPE_HARDSIGMOID:
    case LR_OP_TYPE_SILU:
#if LR_ACT_TABLE_ON
        if (by_table(r, op)) { /* byte v of the table the reference's output for the input byte v */
            if (op->type == LR_OP_TYPE_PRELU && op->n_qp != 2u) { /* a slope per channel: a table per channel */
                lr_prelu_s8_params p;
                prelu_params(m, op, &p);
                channel_tables(r, op, &p, NULL, x, (uint32_t)in[0], n / (uint32_t)in[0], y);
            } else {
                int8_t *const t = ramp(r);
                run_activation_s8(m, op, t, 1u, LR_ACT_S8_TAB_BYTES, t);
                lr_table_s8_opt(x, n, t, y);
            }
            break;
        }
#endif
        run_activation_s8(m, op, x, (uint32_t)in[0], n, y);
        break;
    case LR_OP_TYPE_CONCAT:
        if (!LR_OP_ON(LR_OP_TYPE_CONCAT)) {
            break; /* left out of this build (LR_OPS) */
        }
        for (i = 0; i < op->n_inputs; i++) {
            const int32_t id = lr_op_input(m, op, i);
            int32_t d[LR_MAX_RANK];
            const uint32_t k = numel(d, lr_tensor_shape(m, (uint32_t)id, d));
            lr_concat_s8_ref(tensor_s8(r, id), k, y);
            y += k;
        }
        break;
    case LR_OP_TYPE_RESHAPE:
        if (!LR_OP_ON(LR_OP_TYPE_RESHAPE)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_reshape_s8_ref(x, n, y);
        break;
    case LR_OP_TYPE_PAD:
        if (!LR_OP_ON(LR_OP_TYPE_PAD)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_op_geom(m, op, &g);
        if (op->mode != 0u) {
            lr_pad_edge_ref(&g, op->mode, x, 1u, y);
        } else {
            lr_pad_s8_ref(&g, (int8_t)lr_quant_zp(m, (uint32_t)in0), x, y);
        }
        break;
    case LR_OP_TYPE_SLICE: {
        if (!LR_OP_ON(LR_OP_TYPE_SLICE)) {
            break; /* left out of this build (LR_OPS) */
        }
        int32_t d[LR_MAX_RANK];
        const uint32_t k = numel(d, lr_tensor_shape(m, (uint32_t)op->output, d));
        lr_slice_s8_ref(x + (uint32_t)op->start * (n / (uint32_t)in[0]), k, y);
        break;
    }
    case LR_OP_TYPE_TRANSPOSE_HWC:
        if (!LR_OP_ON(LR_OP_TYPE_TRANSPOSE_HWC)) {
            break; /* left out of this build (LR_OPS) */
        }
        lr_transpose_hwc_s8_ref(x, (uint32_t)in[0], n / (uint32_t)in[0], y);
        break;
#if LR_OP_ON(LR_OP_TYPE_CHANNEL_SHUFFLE) /* no case label otherwise: other builds' switches unchanged */
    case LR_OP_TYPE_CHANNEL_SHUFFLE:
        lr_channel_shuffle_ref(x, (uint32_t)in[0], (uint32_t)op->groups, n / (uint32_t)in[0], y);
        break;
#endif
#if LR_OP_ON(LR_OP_TYPE_PIXEL_SHUFFLE) /* no case label otherwise: other builds' switches unchanged */
    case LR_OP_TYPE_PIXEL_SHUFFLE:
        pixel_shuffle(m, op, x, 1u, y);
        break;
#endif
#if LR_OP_ON(LR_OP_TYPE_UNARY) /* no case label otherwise: other builds' switches unchanged */
    case LR_OP_TYPE_UNARY: /* the packer's table (verified: 256 bytes) */
        lr_unary_s8_ref(x, n, (const int8_t *)(const void *)(m->blob + op->w8), y);
        break;
#endif
    case LR_OP_TYPE_MUL:
    case LR_OP_TYPE_AFFINE:
    case LR_OP_TYPE_RESIZE:
    case LR_OP_TYPE_CONV_TRANSPOSE2D:
        run_geo_s8(r, op);
        break;
    default: /* unreachable: lr_init refused ops without an int8 form */
        break;
    }
}

uint32_t *lr_arena_head(const lr_model *m, void *arena, size_t arena_bytes)
{
    const uintptr_t base = (uintptr_t)arena;
    const size_t adjust = (size_t)((LR_ARENA_ALIGN - (base & (LR_ARENA_ALIGN - 1u))) & (LR_ARENA_ALIGN - 1u));
    const size_t need = (size_t)m->plan_bytes + m->act_bytes + m->scratch_bytes;
    if (arena_bytes < adjust || arena_bytes - adjust < need) {
        return NULL;
    }
    return (uint32_t *)(void *)((unsigned char *)arena + adjust);
}

lr_status lr_arena_prepare(const lr_model *m, void *arena, size_t arena_bytes)
{
    uint32_t *words;
    if (m == NULL || arena == NULL) {
        return LR_ERR_NULL_ARG;
    }
    if (m->magic != LR_MODEL_MAGIC) {
        return LR_ERR_NOT_INITIALIZED;
    }
    if (!LR_PLANNER && m->plan == NULL) {
        return LR_ERR_BAD_PLAN; /* -DLR_PLANNER=0: lr_set_plan first */
    }
    words = lr_arena_head(m, arena, arena_bytes);
    if (words == NULL) {
        return LR_ERR_ARENA_TOO_SMALL;
    }
#if LR_PLANNER
    return m->plan != NULL ? LR_OK : lr_run_plan_build(m, words); /* an offline plan: nothing to prepare */
#else
    return LR_OK;
#endif
}

/* Argument checks and the plan; r set up to run. */
static lr_status begin(const lr_model *m, void *arena, size_t arena_bytes, const void *input, size_t input_len,
                       const void *output, size_t output_len, run_ctx *r)
{
    uint32_t *words;
    const uint32_t *plan;
    if (m == NULL || arena == NULL || input == NULL || output == NULL) {
        return LR_ERR_NULL_ARG;
    }
    if (m->magic != LR_MODEL_MAGIC) {
        return LR_ERR_NOT_INITIALIZED;
    }
    if (input_len != m->input_len || output_len != m->output_len) {
        return LR_ERR_IO_SIZE;
    }
    if (!LR_PLANNER && m->plan == NULL) {
        return LR_ERR_BAD_PLAN; /* -DLR_PLANNER=0: lr_set_plan first */
    }
    words = lr_arena_head(m, arena, arena_bytes);
    if (words == NULL) {
        return LR_ERR_ARENA_TOO_SMALL;
    }
    plan = m->plan != NULL ? m->plan + LR_PLAN_HEAD : words + LR_RUN_PLAN_HEAD; /* offline, or at the head */
#if LR_PLANNER
    if (m->plan == NULL && !lr_run_plan_valid(m, words) && lr_run_plan_build(m, words) != LR_OK) {
        return LR_ERR_NOT_INITIALIZED; /* the blob changed after lr_init */
    }
#endif
    r->m = m;
    r->offsets = plan;
    r->slots = r->offsets + m->n_tensors;
    r->reuse = r->slots + 2u * m->n_ops;
    r->act = (unsigned char *)words + m->plan_bytes;
    r->scratch = NULL;
    r->scratch_bytes = 0u;
    return LR_OK;
}

/* Op k's scratch, from the plan. */
static void op_scratch(run_ctx *r, uint32_t k)
{
    r->scratch = (float *)(void *)(r->act + r->slots[2u * k]);
    r->scratch_bytes = r->slots[2u * k + 1u];
}

/* The ops in order: the integer kernels of an int8 model (lr_run_i8 reaches only these), else fp32. */
static void run_ops_s8(run_ctx *r, lr_op_hook hook, void *ctx)
{
    uint32_t k;
    for (k = 0; k < r->m->n_ops; k++) {
        lr_op op;
        lr_read_op(r->m, k, &op);
        op_scratch(r, k);
        run_op_s8(r, &op);
        if (hook != NULL) {
            hook(ctx, k);
        }
    }
}

static void run_ops_f32(run_ctx *r, lr_op_hook hook, void *ctx)
{
    uint32_t k;
    for (k = 0; k < r->m->n_ops; k++) {
        lr_op op;
        lr_read_op(r->m, k, &op);
        op_scratch(r, k);
        run_op(r, &op);
        if (hook != NULL) {
            hook(ctx, k);
        }
    }
}

/* Scale of tensor id as a float (the stored bit pattern). */
static float quant_scale(const lr_model *m, int32_t id)
{
    const uint32_t bits = lr_quant_scale_bits(m, (uint32_t)id);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* An fp32 input quantised into the int8 model's input tensor: round(x / scale) + zp, half away from
 * zero, saturated (NaN: the zero point). */
static void quantize_input(const run_ctx *r, const float *input)
{
    const lr_model *m = r->m;
    const float scale = quant_scale(m, m->input);
    const int32_t zp = lr_quant_zp(m, (uint32_t)m->input);
    int8_t *q = tensor_s8(r, m->input);
    uint32_t i;
    for (i = 0; i < m->input_len; i++) {
        const float v = input[i] / scale;
        float t;
        int32_t k;
        if (!(v == v)) {
            q[i] = (int8_t)zp;
            continue;
        }
        t = v < -1000.0f ? -1000.0f : v > 1000.0f ? 1000.0f : v; /* beyond int8 anyway */
        k = (int32_t)roundf(t); /* exact: half away from zero (t + 0.5f would round 0.49999997f up) */
        k += zp;
        q[i] = (int8_t)(k < -128 ? -128 : k > 127 ? 127 : k);
    }
}

lr_status lr_run_hooked(const lr_model *m, void *arena, size_t arena_bytes, const float *input,
                        size_t input_len, float *output, size_t output_len, lr_op_hook hook,
                        void *ctx)
{
    run_ctx r;
    uint32_t k, i;
    lr_status s = begin(m, arena, arena_bytes, input, input_len, output, output_len, &r);
    if (s != LR_OK) {
        return s;
    }
    if (LR_IS_INT8(m)) {
        quantize_input(&r, input);
        run_ops_s8(&r, hook, ctx);
    } else {
        memcpy(tensor(&r, m->input), input, (size_t)m->input_len * sizeof(float));
        run_ops_f32(&r, hook, ctx);
    }
    for (k = 0; k < lr_output_count_of(m); k++) { /* the outputs, concatenated in order */
        const int32_t id = lr_output_id(m, k);
        const uint32_t len = lr_tensor_numel(m, (uint32_t)id);
        if (LR_IS_INT8(m)) { /* dequantised: scale * (q - zp) */
            const float scale = quant_scale(m, id);
            const int32_t zp = lr_quant_zp(m, (uint32_t)id);
            const int8_t *q = tensor_s8(&r, id);
            for (i = 0; i < len; i++) {
                output[i] = scale * (float)((int32_t)q[i] - zp);
            }
        } else {
            memcpy(output, tensor(&r, id), (size_t)len * sizeof(float));
        }
        output += len;
    }
    return LR_OK;
}

lr_status lr_run(const lr_model *m, void *arena, size_t arena_bytes, const float *input,
                 size_t input_len, float *output, size_t output_len)
{
    return lr_run_hooked(m, arena, arena_bytes, input, input_len, output, output_len, NULL, NULL);
}

lr_status lr_run_i8(const lr_model *m, void *arena, size_t arena_bytes, const int8_t *input, size_t input_len,
                    int8_t *output, size_t output_len)
{
    return lr_run_i8_hooked(m, arena, arena_bytes, input, input_len, output, output_len, NULL, NULL);
}

lr_status lr_run_i8_hooked(const lr_model *m, void *arena, size_t arena_bytes, const int8_t *input,
                           size_t input_len, int8_t *output, size_t output_len, lr_op_hook hook, void *ctx)
{
    run_ctx r;
    uint32_t k;
    lr_status s;
    if (m != NULL && m->magic == LR_MODEL_MAGIC && !LR_IS_INT8(m)) {
        return LR_ERR_UNSUPPORTED_OP; /* an fp32 model: lr_run */
    }
    s = begin(m, arena, arena_bytes, input, input_len, output, output_len, &r);
    if (s != LR_OK) {
        return s;
    }
    memcpy(tensor_s8(&r, m->input), input, (size_t)m->input_len);
    run_ops_s8(&r, hook, ctx);
    for (k = 0; k < lr_output_count_of(m); k++) {
        const int32_t id = lr_output_id(m, k);
        const uint32_t len = lr_tensor_numel(m, (uint32_t)id);
        memcpy(output, tensor_s8(&r, id), (size_t)len);
        output += len;
    }
    return LR_OK;
}
