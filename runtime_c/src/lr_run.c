/*
 * lr_run.c -- the run path: plan the arena, run the ops in order, rebuild conv kernels lazily.
 *
 * Arena layout (16-byte aligned):
 *   [plan: one lr_plan_entry per tensor][activations: offsets from the plan][kernel scratch]
 * The blob was verified by lr_init: nothing here checks it again.
 *
 * LinRep convs marked in m->reuse_ops (lr_set_conv_path) run the template-reuse path of lr_reuse.c;
 * the others run the direct path below.
 * Kernel reconstruction, per output channel o of a conv (never a layer's whole weight tensor):
 *   LinRep: the codebook is decoded once per op to fp32 at the scratch head (K * kh * kw floats),
 *           then scratch[i][t] = a[o][i] * T[idx[o][i]][t] + b[o][i]   (fp32, multiply then add)
 *           with a, b decoded from fp16, or from ab_bits-bit integers times the channel's scales
 *   dense fp16: scratch = decoded fp16 weights of channel o
 *   dense int8: scratch = q * scale[o] (fp32 multiply)
 *   dense fp32: read in place from the blob, no scratch.
 */
#include "lr_internal.h"

typedef struct run_ctx {
    const lr_model *m;
    const lr_plan_entry *plan;
    unsigned char *act;
    float *scratch;
} run_ctx;

static float *tensor(const run_ctx *r, int32_t id)
{
    return (float *)(void *)(r->act + r->plan[id].offset);
}

static uint32_t numel(const int32_t *dims, uint32_t rank)
{
    uint32_t n = 1u, i;
    for (i = 0; i < rank; i++) {
        n *= (uint32_t)dims[i];
    }
    return n;
}

static void window_geom(const lr_op *op, const int32_t *in, const int32_t *out, lr_geom *g)
{
    g->c = in[0];
    g->h = in[1];
    g->w = in[2];
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
    g->oh = out[1];
    g->ow = out[2];
}

static void conv(const run_ctx *r, const lr_op *op, const int32_t *in, const int32_t *out,
                 const float *x, float *y)
{
    const lr_model *m = r->m;
    const int32_t cin_g = in[0] / op->groups, cout_g = op->out_ch / op->groups;
    const uint32_t per_o = (uint32_t)(cin_g * op->kh * op->kw); /* kernels of one output channel */
    const uint32_t kk = (uint32_t)(op->kh * op->kw);
    const int32_t plane_in = in[1] * in[2], plane_out = out[1] * out[2];
    const lr_values bias = lr_op_bias(m, op);
    lr_values wv, tv;
    lr_linrep lr;
    lr_geom g;
    float *kernels = r->scratch; /* one output channel's kernels (LinRep: after the codebook) */
    const unsigned char *mask = NULL; /* LinRep kernel mask; `kept` counts the kept kernels so far */
    uint32_t kept = 0u;
    int32_t o;
    uint32_t i, t;

    memset(&lr, 0, sizeof lr);
    tv.p = wv.p = NULL;
    tv.f16 = wv.f16 = tv.i8 = wv.i8 = 0u;
    window_geom(op, in, out, &g);
    g.c = cin_g;
    if (op->type == LR_OP_TYPE_LINREP_CONV2D) {
        lr_codebook cb;
        uint32_t n_tmpl;
        lr_read_linrep(m, op->linrep, &lr);
        lr_read_codebook(m, (uint32_t)lr.codebook, &cb);
        tv = lr_codebook_values(m, &cb);
        mask = lr.mask != 0u ? m->blob + lr.mask : NULL;
        n_tmpl = (uint32_t)cb.k * kk;
        for (t = 0; t < n_tmpl; t++) {
            r->scratch[t] = lr_value(tv, t); /* fp16 or fp32 in the blob -> fp32, once per op */
        }
        kernels = r->scratch + n_tmpl;
    } else {
        wv = lr_op_weight(m, op);
    }
    for (o = 0; o < op->out_ch; o++) {
        lr_weights w;
        const float *xg = x + (o / cout_g) * cin_g * plane_in;
        const uint32_t first = (uint32_t)o * per_o;
        w.f = kernels;
        w.le = NULL;
        if (op->type == LR_OP_TYPE_LINREP_CONV2D) {
            for (i = 0; i < (uint32_t)cin_g; i++) {
                const uint32_t n = (uint32_t)o * (uint32_t)cin_g + i;
                uint32_t idx;
                const float *tmpl;
                float *dst = kernels + i * kk;
                float a, b;
                if (!lr_kept(mask, n)) {
                    continue; /* pruned: no index, no a/b, skipped by the conv */
                }
                idx = lr_unpack_index(m->blob + lr.idx, kept, lr.bits);
                tmpl = r->scratch + idx * kk;
                lr_linrep_ab(m->blob, &lr, kept, (uint32_t)o, &a, &b);
                kept++;
                for (t = 0; t < kk; t++) {
                    dst[t] = a * tmpl[t] + b;
                }
            }
        } else if (wv.f16) {
            for (t = 0; t < per_o; t++) {
                kernels[t] = lr_value(wv, first + t);
            }
        } else if (wv.i8) {
            const float s = lr_op_weight_scale(m, op, (uint32_t)o);
            for (t = 0; t < per_o; t++) {
                kernels[t] = lr_value(wv, first + t) * s;
            }
        } else {
            w.f = NULL;
            w.le = wv.p + 4u * first;
        }
        lr_conv2d_channel(&g, xg, w, bias.p != NULL ? lr_value(bias, (uint32_t)o) : 0.0f,
                          y + o * plane_out, mask, (uint32_t)o * (uint32_t)cin_g);
    }
}

static void run_op(const run_ctx *r, const lr_op *op)
{
    const lr_model *m = r->m;
    int32_t in[LR_MAX_RANK], out[LR_MAX_RANK];
    const int32_t in0 = lr_op_input(m, op, 0u);
    const uint32_t rank = lr_tensor_shape(m, (uint32_t)in0, in);
    const uint32_t n = numel(in, rank);
    const float *x = tensor(r, in0);
    float *y = tensor(r, op->output);
    lr_geom g;
    uint32_t i;

    (void)lr_tensor_shape(m, (uint32_t)op->output, out);
    switch (op->type) {
    case LR_OP_TYPE_CONV2D:
    case LR_OP_TYPE_LINREP_CONV2D:
        if ((m->reuse_ops[op->index >> 5] >> (op->index & 31u)) & 1u) {
            lr_conv_reuse(m, op, x, y, r->scratch); /* template reuse (lr_reuse.c) */
        } else {
            conv(r, op, in, out, x, y);
        }
        break;
    case LR_OP_TYPE_LINEAR:
    {
        lr_values scale;
        scale.p = op->dtype == LR_DTYPE_I8 ? m->blob + op->ws : NULL;
        scale.f16 = scale.i8 = 0u;
        lr_linear(x, (uint32_t)in[0], (uint32_t)op->out_ch, lr_op_weight(m, op), scale, op->n_ws, lr_op_bias(m, op), y);
    }
        break;
    case LR_OP_TYPE_RELU:
        lr_relu(x, n, y);
        break;
    case LR_OP_TYPE_RELU6:
        lr_relu6(x, n, y);
        break;
    case LR_OP_TYPE_LEAKY_RELU:
        lr_leaky_relu(x, n, op->alpha, y);
        break;
    case LR_OP_TYPE_PRELU:
        lr_prelu(x, (uint32_t)in[0], n / (uint32_t)in[0], lr_op_weight(m, op),
                 op->dtype == LR_DTYPE_F16 ? op->n_w16 : op->n_w32, y);
        break;
    case LR_OP_TYPE_SIGMOID:
        lr_sigmoid(x, n, y);
        break;
    case LR_OP_TYPE_HARDSWISH:
        lr_hardswish(x, n, y);
        break;
    case LR_OP_TYPE_MAX_POOL2D:
        window_geom(op, in, out, &g);
        lr_max_pool2d(&g, x, y);
        break;
    case LR_OP_TYPE_AVG_POOL2D:
        window_geom(op, in, out, &g);
        lr_avg_pool2d(&g, op->count_include_pad != 0u, x, y);
        break;
    case LR_OP_TYPE_ADAPTIVE_AVG_POOL2D:
        window_geom(op, in, out, &g);
        lr_adaptive_avg_pool2d(&g, x, y);
        break;
    case LR_OP_TYPE_ADD:
        lr_add(x, tensor(r, lr_op_input(m, op, 1u)), n, y);
        break;
    case LR_OP_TYPE_CONCAT: /* channel concat of [C, H, W] tensors = concatenation in memory */
        for (i = 0; i < op->n_inputs; i++) {
            const int32_t id = lr_op_input(m, op, i);
            int32_t d[LR_MAX_RANK];
            const uint32_t k = numel(d, lr_tensor_shape(m, (uint32_t)id, d));
            memcpy(y, tensor(r, id), (size_t)k * sizeof(float));
            y += k;
        }
        break;
    case LR_OP_TYPE_RESHAPE:
        memcpy(y, x, (size_t)n * sizeof(float));
        break;
    case LR_OP_TYPE_SOFTMAX:
        lr_softmax(x, n, y);
        break;
    default: /* unreachable: lr_init refused unknown types */
        break;
    }
    if (op->activation != LR_ACTIVATION_NONE) { /* fused: applied in place to the result */
        int32_t d[LR_MAX_RANK];
        const uint32_t k = numel(d, lr_tensor_shape(m, (uint32_t)op->output, d));
        if (op->activation == LR_ACTIVATION_RELU) {
            lr_relu(y, k, y);
        } else {
            lr_relu6(y, k, y);
        }
    }
}

lr_status lr_run_hooked(const lr_model *m, void *arena, size_t arena_bytes, const float *input,
                        size_t input_len, float *output, size_t output_len, lr_op_hook hook,
                        void *ctx)
{
    run_ctx r;
    lr_where where;
    uintptr_t base;
    size_t adjust, need;
    uint32_t act_bytes, k;
    lr_plan_entry *plan;

    if (m == NULL || arena == NULL || input == NULL || output == NULL) {
        return LR_ERR_NULL_ARG;
    }
    if (m->magic != LR_MODEL_MAGIC) {
        return LR_ERR_NOT_INITIALIZED;
    }
    if (input_len != m->input_len || output_len != m->output_len) {
        return LR_ERR_IO_SIZE;
    }
    base = (uintptr_t)arena;
    adjust = (size_t)((LR_ARENA_ALIGN - (base & (LR_ARENA_ALIGN - 1u))) & (LR_ARENA_ALIGN - 1u));
    need = (size_t)m->plan_bytes + m->act_bytes + m->scratch_bytes;
    if (arena_bytes < adjust || arena_bytes - adjust < need) {
        return LR_ERR_ARENA_TOO_SMALL;
    }
    plan = (lr_plan_entry *)(void *)((unsigned char *)arena + adjust);
    if (lr_plan(m, plan, &act_bytes, NULL, &where) != LR_OK || act_bytes != m->act_bytes) {
        return LR_ERR_NOT_INITIALIZED; /* the blob changed after lr_init */
    }
    r.m = m;
    r.plan = plan;
    r.act = (unsigned char *)plan + m->plan_bytes;
    r.scratch = (float *)(void *)(r.act + m->act_bytes);
    memcpy(tensor(&r, m->input), input, (size_t)m->input_len * sizeof(float));
    for (k = 0; k < m->n_ops; k++) {
        lr_op op;
        lr_read_op(m, k, &op);
        run_op(&r, &op);
        if (hook != NULL) {
            hook(ctx, k);
        }
    }
    memcpy(output, tensor(&r, m->output), (size_t)m->output_len * sizeof(float));
    return LR_OK;
}

lr_status lr_run(const lr_model *m, void *arena, size_t arena_bytes, const float *input,
                 size_t input_len, float *output, size_t output_len)
{
    return lr_run_hooked(m, arena, arena_bytes, input, input_len, output, output_len, NULL, NULL);
}
