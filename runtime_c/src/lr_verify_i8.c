/*
 * lr_verify_i8.c -- the verifier's rules for int8 models (format version 4, docs/INTEGER.md).
 *
 * Runs after lr_verify.c's structure and per-op checks (shapes, parameters, vector sizes), on a
 * blob whose Model.tensor_quant is present. Every check is integer-only: float fields are compared by
 * their bit patterns.
 */
#include "kernels/lr_kernels.h" /* lr_linrep_conv2d_direct_s8_scratch */

#define BOUND ((int64_t)1 << 31) /* accumulators stay strictly below this in magnitude */

lr_status lr_verify_quant_i8(const lr_model *m, lr_where *where)
{
    uint32_t n, i;
    (void)lr_get_vec(m->blob, m->root, LR_MODEL_TENSOR_QUANT, &n);
    if (n != m->n_tensors) {
        return LR_ERR_BAD_TENSOR;
    }
    for (i = 0; i < n; i++) {
        const uint32_t bits = lr_quant_scale_bits(m, i);
        const int32_t zp = lr_quant_zp(m, i);
        /* a positive, finite, non-zero float32: sign bit clear, below the infinity pattern */
        if (bits == 0u || bits >= 0x7F800000u || zp < -128 || zp > 127) {
            where->tensor = (int32_t)i;
            return LR_ERR_BAD_TENSOR;
        }
    }
    return LR_OK;
}

static int same_quant(const lr_model *m, int32_t a, int32_t b)
{
    return lr_quant_scale_bits(m, (uint32_t)a) == lr_quant_scale_bits(m, (uint32_t)b) &&
           lr_quant_zp(m, (uint32_t)a) == lr_quant_zp(m, (uint32_t)b);
}

static int32_t shift_at(const lr_model *m, const lr_op *op, uint32_t i)
{
    return lr_s8(m->blob[op->shift + i]);
}

static int32_t mult_at(const lr_model *m, const lr_op *op, uint32_t i)
{
    return lr_lei32(m->blob + op->mult + 4u * i);
}

static int64_t abs64(int64_t v)
{
    return v < 0 ? -v : v;
}

/* The accumulator bound of output channel o with sum |W| = wsum: |bias| + 255 * wsum, shifted left by
 * the requantisation's left shift, stays below 2^31. */
static int bound_ok(const lr_model *m, const lr_op *op, uint32_t o, int64_t wsum)
{
    const int64_t bias = op->bi32 ? (int64_t)lr_lei32(m->blob + op->bi32 + 4u * o) : 0;
    const int32_t s = shift_at(m, op, op->n_shift == 1u ? 0u : o);
    int64_t acc;
    if (wsum >= BOUND) {
        return 0;
    }
    acc = abs64(bias) + 255 * wsum;
    return acc < BOUND && (s <= 0 || acc < (BOUND >> s));
}

/* CONV2D / LINEAR: int8 weights, int32 bias, one multiplier per output channel (or one), the bound. */
static lr_status check_dense(const lr_model *m, const lr_op *op)
{
    uint32_t per, o, k;
    if (op->dtype != LR_DTYPE_I8 || op->b32 != 0u || op->n_b32 != 0u) {
        return LR_ERR_BAD_CONSTANT;
    }
    if (op->n_mult != 1u && op->n_mult != (uint32_t)op->out_ch) {
        return LR_ERR_BAD_PARAMS;
    }
    per = op->n_w8 / (uint32_t)op->out_ch; /* verified: n_w8 = out_ch * per */
    for (o = 0; o < (uint32_t)op->out_ch; o++) {
        int64_t wsum = 0;
        for (k = 0; k < per; k++) {
            wsum += abs64(lr_s8(m->blob[op->w8 + o * per + k]));
        }
        if (!bound_ok(m, op, o, wsum)) {
            return LR_ERR_BAD_PARAMS;
        }
    }
    return LR_OK;
}

/* LINREP_CONV2D: integer a/b, an int8 codebook, b exponents in -31 .. 31, and the bound of both paths
 * (docs/INTEGER.md section 3, linrep.accumulator_bounds): with a' = a_q * 2^max(0, -e), b' = b_q * 2^max(0, e),
 * |bias| + 255 * sum_i (|a'| * sum_k |t_q[idx, k]| + |b'| * kh * kw) < 2^31. It bounds the direct path's
 * sum_k |W| too, and every template response and box-sum term of the reuse path. */
static lr_status check_linrep_i8(const lr_model *m, const lr_op *op)
{
    lr_linrep lr;
    lr_codebook cb;
    int32_t dims[LR_MAX_RANK];
    uint32_t cin_g, kk, o, i, j, kept = 0u;
    if (op->b32 != 0u || op->n_b32 != 0u) {
        return LR_ERR_BAD_CONSTANT;
    }
    lr_read_linrep(m, op->linrep, &lr);
    lr_read_codebook(m, (uint32_t)lr.codebook, &cb);
    if (cb.dtype != LR_DTYPE_I8) {
        return LR_ERR_BAD_CODEBOOK;
    }
    if (lr.ab_bits == 0u || op->n_bexp != (uint32_t)op->out_ch) {
        return LR_ERR_BAD_CONSTANT;
    }
    if (op->n_mult != 1u && op->n_mult != (uint32_t)op->out_ch) {
        return LR_ERR_BAD_PARAMS;
    }
    kk = (uint32_t)cb.kh * (uint32_t)cb.kw;
    if (kk > 65535u) {
        return LR_ERR_BAD_PARAMS; /* template responses 255 * 128 * kk must fit int32 */
    }
    (void)lr_tensor_shape(m, (uint32_t)lr_op_input(m, op, 0u), dims);
    cin_g = (uint32_t)(dims[0] / op->groups);
    for (o = 0; o < (uint32_t)op->out_ch; o++) {
        const int32_t e = lr_s8(m->blob[op->bexp + o]);
        int64_t wsum = 0;
        if (e < -31 || e > 31) {
            return LR_ERR_BAD_PARAMS;
        }
        for (i = 0; i < cin_g && wsum < BOUND; i++) {
            const uint32_t n = o * cin_g + i;
            int64_t a, b, tsum = 0;
            const unsigned char *t;
            if (!lr_kept(lr.mask ? m->blob + lr.mask : NULL, n)) {
                continue;
            }
            t = m->blob + cb.i8 + kk * lr_unpack_index(m->blob + lr.idx, kept, lr.bits);
            a = abs64((int64_t)lr_unpack_signed(m->blob + lr.abq, 2u * kept, lr.ab_bits) * ((int64_t)1 << (e < 0 ? -e : 0)));
            b = abs64((int64_t)lr_unpack_signed(m->blob + lr.abq, 2u * kept + 1u, lr.ab_bits) * ((int64_t)1 << (e > 0 ? e : 0)));
            kept++;
            for (j = 0; j < kk; j++) {
                tsum += abs64(lr_s8(t[j]));
            }
            /* a, b <= 2^38 and tsum, kk <= 2^23: each product below 2^61; wsum stops growing past 2^31 */
            wsum += a * tsum + b * (int64_t)kk;
        }
        if (!bound_ok(m, op, o, wsum)) {
            return LR_ERR_BAD_PARAMS;
        }
    }
    return LR_OK;
}

/* ---- MUL, AFFINE, RESIZE, CONV_TRANSPOSE2D (docs/INTEGER.md section 2) ---- */

/* MUL: one multiplier; (x0 - zp0) * (x1 - zp1), at most 255 * 255 in magnitude, shifted left, fits int32. */
static lr_status check_mul_i8(const lr_model *m, const lr_op *op)
{
    const int32_t s = op->n_mult == 1u ? shift_at(m, op, 0u) : 0;
    if (op->n_mult != 1u || 255 * 255 >= (BOUND >> (s > 0 ? s : 0))) {
        return LR_ERR_BAD_PARAMS;
    }
    return LR_OK;
}

/* AFFINE: int8 weights (a depthwise 1x1 conv), int32 bias [c] or none, multipliers [c] or [1], the bound. */
static lr_status check_affine_s8(const lr_model *m, const lr_op *op, uint32_t c)
{
    uint32_t o;
    if (op->dtype != LR_DTYPE_I8 || (op->bi32 != 0u && op->n_bi32 != c)) {
        return LR_ERR_BAD_CONSTANT;
    }
    if (op->n_mult != 1u && op->n_mult != c) {
        return LR_ERR_BAD_PARAMS;
    }
    for (o = 0; o < c; o++) {
        if (!bound_ok(m, op, o, abs64(lr_s8(m->blob[op->w8 + o])))) {
            return LR_ERR_BAD_PARAMS;
        }
    }
    return LR_OK;
}

/* A LinRep CONV_TRANSPOSE2D: int8 codebook, integer a/b, b exponents [oc] in -31 .. 31, and per output channel o
 * |bias| + 255 * sum over its column's kept kernels of (|a'| * sum_k |t_q| + |b'| * kh * kw) < 2^31 (a' = a_q *
 * 2^max(0, -e), b' = b_q * 2^max(0, e)), which bounds sum |W| of lr_linrep_conv_transpose2d_s8_ref. */
static lr_status check_linrep_transpose_s8(const lr_model *m, const lr_op *op, uint32_t cin_g, uint32_t cout_g)
{
    lr_linrep lr;
    lr_codebook cb;
    uint32_t kk, o, i, j;
    lr_read_linrep(m, op->linrep, &lr);
    lr_read_codebook(m, (uint32_t)lr.codebook, &cb);
    if (cb.dtype != LR_DTYPE_I8) {
        return LR_ERR_BAD_CODEBOOK;
    }
    if (lr.ab_bits == 0u || op->n_bexp != (uint32_t)op->out_ch) {
        return LR_ERR_BAD_CONSTANT;
    }
    kk = (uint32_t)cb.kh * (uint32_t)cb.kw;
    for (o = 0; o < (uint32_t)op->out_ch; o++) {
        const uint32_t grp = o / cout_g, oo = o % cout_g;
        const unsigned char *mask = lr.mask ? m->blob + lr.mask : NULL;
        const int32_t e = lr_s8(m->blob[op->bexp + o]);
        uint32_t n = 0u, kept = 0u;
        int64_t wsum = 0;
        if (e < -31 || e > 31) {
            return LR_ERR_BAD_PARAMS;
        }
        for (i = grp * cin_g; i < (grp + 1u) * cin_g && wsum < BOUND; i++) {
            const uint32_t target = i * cout_g + oo;
            const unsigned char *t;
            int64_t a, b, tsum = 0;
            for (; n < target; n++) {
                kept += (uint32_t)lr_kept(mask, n);
            }
            if (!lr_kept(mask, target)) {
                continue;
            }
            t = m->blob + cb.i8 + kk * lr_unpack_index(m->blob + lr.idx, kept, lr.bits);
            a = abs64((int64_t)lr_unpack_signed(m->blob + lr.abq, 2u * kept, lr.ab_bits) * ((int64_t)1 << (e < 0 ? -e : 0)));
            b = abs64((int64_t)lr_unpack_signed(m->blob + lr.abq, 2u * kept + 1u, lr.ab_bits) * ((int64_t)1 << (e > 0 ? e : 0)));
            for (j = 0; j < kk; j++) {
                tsum += abs64(lr_s8(t[j]));
            }
            wsum += a * tsum + b * (int64_t)kk; /* each product below 2^61, as in check_linrep_i8 */
        }
        if (!bound_ok(m, op, o, wsum)) {
            return LR_ERR_BAD_PARAMS;
        }
    }
    return LR_OK;
}

/* CONV_TRANSPOSE2D: dense int8 weights [c][cout_g][kh][kw] or LinRep kernels over that grid, int32 bias,
 * multipliers [oc] or [1], per output channel |bias| + 255 * sum |w| over its column < 2^31; scratch: one
 * output plane of int32 accumulators (and for LinRep one kernel's integers). */
static lr_status check_conv_transpose_s8(const lr_model *m, const lr_op *op, uint32_t *scratch_words)
{
    int32_t in[LR_MAX_RANK], out[LR_MAX_RANK];
    uint32_t cout_g, cin_g, kk, o, i, k, need;
    if (op->linrep != 0u) {
        lr_status s;
        if (op->b32 != 0u || op->n_b32 != 0u) {
            return LR_ERR_BAD_CONSTANT;
        }
        if (op->n_mult != 1u && op->n_mult != (uint32_t)op->out_ch) {
            return LR_ERR_BAD_PARAMS;
        }
        (void)lr_tensor_shape(m, (uint32_t)lr_op_input(m, op, 0u), in);
        (void)lr_tensor_shape(m, (uint32_t)op->output, out);
        s = check_linrep_transpose_s8(m, op, (uint32_t)(in[0] / op->groups), (uint32_t)(op->out_ch / op->groups));
        need = (uint32_t)(out[1] * out[2]) + (uint32_t)op->kh * (uint32_t)op->kw; /* verified: fits */
        if (s == LR_OK && need > *scratch_words) {
            *scratch_words = need;
        }
        return s;
    }
    if (op->dtype != LR_DTYPE_I8 || op->b32 != 0u || op->n_b32 != 0u) {
        return LR_ERR_BAD_CONSTANT; /* int8 weights; the bias is bias_i32 */
    }
    if (op->n_mult != 1u && op->n_mult != (uint32_t)op->out_ch) {
        return LR_ERR_BAD_PARAMS;
    }
    (void)lr_tensor_shape(m, (uint32_t)lr_op_input(m, op, 0u), in);
    (void)lr_tensor_shape(m, (uint32_t)op->output, out);
    cout_g = (uint32_t)(op->out_ch / op->groups);
    cin_g = (uint32_t)(in[0] / op->groups);
    kk = (uint32_t)op->kh * (uint32_t)op->kw; /* verified: c * cout_g * kk = n_w8 */
    for (o = 0; o < (uint32_t)op->out_ch; o++) {
        const uint32_t grp = o / cout_g, oo = o % cout_g;
        int64_t wsum = 0;
        for (i = grp * cin_g; i < (grp + 1u) * cin_g; i++) {
            const unsigned char *w = m->blob + op->w8 + ((size_t)i * cout_g + oo) * kk;
            for (k = 0; k < kk; k++) {
                wsum += abs64(lr_s8(w[k]));
            }
        }
        if (!bound_ok(m, op, o, wsum)) {
            return LR_ERR_BAD_PARAMS;
        }
    }
    need = (uint32_t)(out[1] * out[2]); /* verified: below LR_MAX_NUMEL */
    if (need > *scratch_words) {
        *scratch_words = need;
    }
    return LR_OK;
}

/* RESIZE bilinear: TFLite's integer positions stay inside the input along both axes. */
static lr_status check_resize_s8(const lr_model *m, const lr_op *op)
{
    int32_t in[LR_MAX_RANK], out[LR_MAX_RANK];
    if (op->mode == 0u || op->mode == 3u) { /* nearest */
        return LR_OK;
    }
    (void)lr_tensor_shape(m, (uint32_t)lr_op_input(m, op, 0u), in);
    (void)lr_tensor_shape(m, (uint32_t)op->output, out);
    if (!lr_resize_bilinear_s8_axis_ok(in[1], out[1], op->mode == 2u) ||
        !lr_resize_bilinear_s8_axis_ok(in[2], out[2], op->mode == 2u)) {
        return LR_ERR_BAD_PARAMS;
    }
    return LR_OK;
}

static int op_has_int8_form(uint32_t type)
{
    switch (type) {
    case LR_OP_TYPE_MUL:
    case LR_OP_TYPE_AFFINE:
    case LR_OP_TYPE_RESIZE:
    case LR_OP_TYPE_CONV_TRANSPOSE2D:
    case LR_OP_TYPE_CONV2D:
    case LR_OP_TYPE_LINREP_CONV2D:
    case LR_OP_TYPE_LINEAR:
    case LR_OP_TYPE_ADD:
    case LR_OP_TYPE_MAX_POOL2D:
    case LR_OP_TYPE_AVG_POOL2D:
    case LR_OP_TYPE_ADAPTIVE_AVG_POOL2D:
    case LR_OP_TYPE_SOFTMAX:
    case LR_OP_TYPE_RESHAPE:
    case LR_OP_TYPE_TRANSPOSE_HWC:
    case LR_OP_TYPE_SLICE:
#if LR_OP_ON(LR_OP_TYPE_CHANNEL_SHUFFLE)
    case LR_OP_TYPE_CHANNEL_SHUFFLE:
#endif
#if LR_OP_ON(LR_OP_TYPE_PIXEL_SHUFFLE)
    case LR_OP_TYPE_PIXEL_SHUFFLE:
#endif
#if LR_OP_ON(LR_OP_TYPE_UNARY)
    case LR_OP_TYPE_UNARY:
#endif
#if LR_OP_ON(LR_OP_TYPE_SUB)
    case LR_OP_TYPE_SUB:
#endif
    case LR_OP_TYPE_CONCAT:
    case LR_OP_TYPE_PAD:
    case LR_OP_TYPE_SIGMOID:
    case LR_OP_TYPE_HARDSWISH:
    case LR_OP_TYPE_TANH:
    case LR_OP_TYPE_RELU:
    case LR_OP_TYPE_RELU6:
    case LR_OP_TYPE_CLAMP:
    case LR_OP_TYPE_LEAKY_RELU:
    case LR_OP_TYPE_PRELU:
    case LR_OP_TYPE_SILU:
    case LR_OP_TYPE_HARDSIGMOID:
        return 1;
    default:
        return 0;
    }
}

/* The ops whose integers include qparams (docs/INTEGER.md): SOFTMAX [diff_min], SIGMOID and TANH [radius]. */
static int op_has_qparams(uint32_t type)
{
    return type == LR_OP_TYPE_SOFTMAX || type == LR_OP_TYPE_SIGMOID || type == LR_OP_TYPE_TANH ||
           type == LR_OP_TYPE_PRELU || type == LR_OP_TYPE_SILU;
}

/* Output quantisation fixed by TFLite: scale given by its float32 bits, zero point zp. */
static int fixed_out_quant(const lr_model *m, const lr_op *op, uint32_t scale_bits, int32_t zp)
{
    return lr_quant_scale_bits(m, (uint32_t)op->output) == scale_bits && lr_quant_zp(m, (uint32_t)op->output) == zp;
}

/* TFLite's int8 LOGISTIC constants (multiplier and shift k of the op, radius qparams[0]): 0 <= shift <= 30,
 * radius >= 0 and min(radius - 1, 255) * 2^shift < 2^31 (every rescaled input fits int32). */
static int logistic_ok(const lr_model *m, const lr_op *op, uint32_t k)
{
    int32_t s, radius;
    int64_t top;
    if (op->n_qp != 1u || k >= op->n_mult) {
        return 0;
    }
    s = shift_at(m, op, k);
    radius = lr_lei32(m->blob + op->qp);
    if (s < 0 || s > 30 || radius < 0) {
        return 0;
    }
    top = (int64_t)radius - 1 < 255 ? (int64_t)radius - 1 : 255;
    return top * ((int64_t)1 << s) < BOUND;
}

/* The elementwise activations (docs/INTEGER.md section 6): every constant the kernel relies on. */
static lr_status check_activation_i8(const lr_model *m, const lr_op *op)
{
    switch (op->type) {
    case LR_OP_TYPE_SIGMOID:
    case LR_OP_TYPE_TANH: {
        if (!(LR_OP_ON(LR_OP_TYPE_SIGMOID) || LR_OP_ON(LR_OP_TYPE_TANH))) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        /* TFLite's LOGISTIC: output 1/256 (0x3B800000), -128; TANH: 1/128 (0x3C000000), 0. One Q4.27 input
         * multiplier and its radius (logistic_ok) */
        const int out_ok = op->type == LR_OP_TYPE_SIGMOID ? fixed_out_quant(m, op, 0x3B800000u, -128)
                                                          : fixed_out_quant(m, op, 0x3C000000u, 0);
        return op->n_mult == 1u && out_ok && logistic_ok(m, op, 0u) ? LR_OK : LR_ERR_BAD_PARAMS;
    }
    case LR_OP_TYPE_RELU:
    case LR_OP_TYPE_RELU6:
    case LR_OP_TYPE_CLAMP:
        if (!(LR_OP_ON(LR_OP_TYPE_RELU) || LR_OP_ON(LR_OP_TYPE_RELU6) || LR_OP_ON(LR_OP_TYPE_CLAMP))) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        /* with one multiplier (TFLite's RELU): |x - zp_in| <= 255 shifted left fits int32 */
        if (op->n_mult != 1u || 255 * ((int64_t)1 << (shift_at(m, op, 0u) > 0 ? shift_at(m, op, 0u) : 0)) >= BOUND) {
            return LR_ERR_BAD_PARAMS;
        }
        return LR_OK;
    case LR_OP_TYPE_LEAKY_RELU: {
        if (!LR_OP_ON(LR_OP_TYPE_LEAKY_RELU)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        /* TFLite's LEAKY_RELU: [identity, alpha]; |x - zp_in| <= 255 shifted left fits int32 for both */
        uint32_t k;
        if (op->n_mult != 2u) {
            return LR_ERR_BAD_PARAMS;
        }
        for (k = 0; k < 2u; k++) {
            const int32_t s = shift_at(m, op, k);
            if (255 * ((int64_t)1 << (s > 0 ? s : 0)) >= BOUND) {
                return LR_ERR_BAD_PARAMS;
            }
        }
        return LR_OK;
    }
    case LR_OP_TYPE_HARDSIGMOID: {
        if (!LR_OP_ON(LR_OP_TYPE_HARDSIGMOID)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        /* ours: [output (Q31, MBQM), reluish (HARD_SWISH's int16 pair)]; the reluish value r <= 32767 shifted left
         * fits int32 */
        int32_t s, re;
        if (op->n_mult != 2u || mult_at(m, op, 1u) > INT16_MAX) {
            return LR_ERR_BAD_PARAMS;
        }
        s = shift_at(m, op, 0u);
        re = shift_at(m, op, 1u);
        if (re < -15 || 32767 * ((int64_t)1 << (s > 0 ? s : 0)) >= BOUND) {
            return LR_ERR_BAD_PARAMS;
        }
        return LR_OK;
    }
    case LR_OP_TYPE_SILU: {
        if (!LR_OP_ON(LR_OP_TYPE_SILU)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        /* LOGISTIC then MUL: [logistic, mul]; the logistic's constants as SIGMOID's, the MUL's product
         * |x - zp_in| * |g + 128| <= 255 * 255 shifted left fits int32 */
        const int32_t s = op->n_mult == 2u ? shift_at(m, op, 1u) : 0;
        if (op->n_mult != 2u || !logistic_ok(m, op, 0u) || 255 * 255 * ((int64_t)1 << (s > 0 ? s : 0)) >= BOUND) {
            return LR_ERR_BAD_PARAMS;
        }
        return LR_OK;
    }
    case LR_OP_TYPE_PRELU: {
        if (!LR_OP_ON(LR_OP_TYPE_PRELU)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        /* TFLite's PRELU: [identity, alpha]; qparams [zp_alpha, one int8 slope per fp32 slope (1 or C, verified)];
         * 255 * 2^s (identity) and 255 * 255 * 2^s (alpha: |v * (a - zp_alpha)| <= 255 * 255) fit int32 */
        uint32_t k;
        const int32_t s1 = shift_at(m, op, 0u), s2 = op->n_mult == 2u ? shift_at(m, op, 1u) : 0;
        if (op->n_mult != 2u || op->n_qp != 1u + op->n_w32 + op->n_w16 ||
            255 * ((int64_t)1 << (s1 > 0 ? s1 : 0)) >= BOUND || 255 * 255 * ((int64_t)1 << (s2 > 0 ? s2 : 0)) >= BOUND) {
            return LR_ERR_BAD_PARAMS;
        }
        for (k = 0; k < op->n_qp; k++) {
            const int32_t v = lr_lei32(m->blob + op->qp + 4u * k);
            if (v < -128 || v > 127) {
                return LR_ERR_BAD_PARAMS;
            }
        }
        return LR_OK;
    }
    case LR_OP_TYPE_HARDSWISH: {
        if (!LR_OP_ON(LR_OP_TYPE_HARDSWISH)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        /* TFLite's HARD_SWISH: [output, reluish] int16 multipliers (0 .. 32767); output exponent -15 .. 0 (a
         * right shift of an int16), reluish -15 .. 30 */
        int32_t oe, re;
        if (op->n_mult != 2u || mult_at(m, op, 0u) > INT16_MAX || mult_at(m, op, 1u) > INT16_MAX) {
            return LR_ERR_BAD_PARAMS;
        }
        oe = shift_at(m, op, 0u);
        re = shift_at(m, op, 1u);
        if (oe < -15 || oe > 0 || re < -15) {
            return LR_ERR_BAD_PARAMS;
        }
        return LR_OK;
    }
    default:
        return LR_ERR_UNSUPPORTED_OP;
    }
}

lr_status lr_verify_op_i8(const lr_model *m, const lr_op *op, lr_where *where, uint32_t *scratch_words)
{
    const int conv = op->type == LR_OP_TYPE_CONV2D || op->type == LR_OP_TYPE_LINREP_CONV2D ||
                     op->type == LR_OP_TYPE_LINEAR || op->type == LR_OP_TYPE_CONV_TRANSPOSE2D;
    const int32_t in0 = lr_op_input(m, op, 0u);
    uint32_t i, n_mult_needed = 0u;
    if (!op_has_int8_form(op->type)) {
        return LR_ERR_UNSUPPORTED_OP;
    }
    if (op->n_mult != op->n_shift || op->act_min > op->act_max) {
        return LR_ERR_BAD_PARAMS;
    }
    for (i = 0; i < op->n_mult; i++) {
        const int32_t s = shift_at(m, op, i);
        if (mult_at(m, op, i) < 0 || s < -31 || s > 30) {
            return LR_ERR_BAD_PARAMS;
        }
    }
    if (op->type == LR_OP_TYPE_AFFINE) { /* its bias has one value per input channel (check_affine_s8) */
    } else if ((op->bi32 != 0u && !conv) || (op->bi32 != 0u && op->n_bi32 != (uint32_t)op->out_ch)) {
        return LR_ERR_BAD_CONSTANT;
    }
    if ((op->bexp != 0u && op->type != LR_OP_TYPE_LINREP_CONV2D &&
         !(op->type == LR_OP_TYPE_CONV_TRANSPOSE2D && op->linrep != 0u)) ||
        (op->qp != 0u && !op_has_qparams(op->type))) {
        return LR_ERR_BAD_PARAMS;
    }
    switch (op->type) {
    case LR_OP_TYPE_CONV2D: {
        if (!LR_OP_ON(LR_OP_TYPE_CONV2D)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        const uint32_t per = op->n_w8 / (uint32_t)op->out_ch; /* verified: cin_g * kh * kw */
        if (per > *scratch_words) {
            *scratch_words = per; /* one output channel's weights as int32 */
        }
        return check_dense(m, op);
    }
    case LR_OP_TYPE_LINEAR:
        if (!LR_OP_ON(LR_OP_TYPE_LINEAR)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        return check_dense(m, op);
    case LR_OP_TYPE_LINREP_CONV2D: {
        if (!LR_OP_ON(LR_OP_TYPE_LINREP_CONV2D)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        int32_t dims[LR_MAX_RANK];
        uint32_t need;
        lr_status s = check_linrep_i8(m, op);
        if (s != LR_OK) {
            return s;
        }
        (void)lr_tensor_shape(m, (uint32_t)in0, dims);
        need = (uint32_t)lr_linrep_conv2d_direct_s8_scratch((uint32_t)(dims[0] / op->groups) * (uint32_t)op->kh *
                                                             (uint32_t)op->kw, (uint32_t)(op->out_ch / op->groups));
        /* verified: per fits; need <= 3 per + LR_DIRECT_S8_WORDS + 1 */
        if (need > *scratch_words) {
            *scratch_words = need; /* the direct path (lr_kernels.h) */
        }
        return LR_OK;
    }
    case LR_OP_TYPE_ADD:
#if LR_OP_ON(LR_OP_TYPE_SUB) /* TFLite's SUB: ADD's integers (no case label otherwise: other builds unchanged) */
    case LR_OP_TYPE_SUB:
#endif
    {
        if (!(LR_OP_ON(LR_OP_TYPE_ADD) || LR_OP_ON(LR_OP_TYPE_SUB))) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        /* shapes: equal, or the second one value per channel of the first (check_op); multipliers of both
         * inputs and the output */
        if (op->n_mult != 3u) {
            return LR_ERR_BAD_PARAMS;
        }
        for (i = 0; i < 3u; i++) {
            if (shift_at(m, op, i) > 0) {
                return LR_ERR_BAD_PARAMS; /* TFLite's ADD multipliers are below one */
            }
        }
        return LR_OK;
    }
    case LR_OP_TYPE_SOFTMAX: {
        if (!LR_OP_ON(LR_OP_TYPE_SOFTMAX)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        /* TFLite: output scale 1/256 (float32 bits 0x3B800000), zero point -128; diff_min <= 0 */
        int32_t dims[LR_MAX_RANK];
        int32_t s, diff_min;
        (void)lr_tensor_shape(m, (uint32_t)in0, dims);
        if (op->n_mult != 1u || op->n_qp != 1u || dims[0] > 256 ||
            lr_quant_scale_bits(m, (uint32_t)op->output) != 0x3B800000u || lr_quant_zp(m, (uint32_t)op->output) != -128) {
            return LR_ERR_BAD_PARAMS; /* c <= 256: the Q12.19 sum of exps keeps 4 bits of headroom */
        }
        s = shift_at(m, op, 0u);
        diff_min = lr_lei32(m->blob + op->qp);
        if (diff_min > 0 || (s > 0 && -(int64_t)diff_min >= (BOUND >> s))) {
            return LR_ERR_BAD_PARAMS; /* the rescaled differences fit int32 */
        }
        return LR_OK;
    }
    case LR_OP_TYPE_ADAPTIVE_AVG_POOL2D: {
        if (!LR_OP_ON(LR_OP_TYPE_ADAPTIVE_AVG_POOL2D)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        /* with one multiplier: TFLite's MEAN (an imported .tflite; over H, W: a 1x1 output; over the channels:
         * [1, C, H*W] to 1 x H*W), input and output quantised apart, bins all alike (the output size divides the
         * input's), n values each; the sum of n values minus zp_in * n, shifted left, fits int32:
         * 255 * n * 2^max(shift, 0) < 2^31. Without: torch's adaptive average pool (quantised alike). */
        int32_t dims[LR_MAX_RANK];
        int64_t n;
        int32_t s;
        if (op->n_mult == 0u) {
            break;
        }
        if (!LR_TFLITE_MEAN) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_TFLITE_MEAN) */
        }
        (void)lr_tensor_shape(m, (uint32_t)in0, dims);
        s = shift_at(m, op, 0u);
        if (op->n_mult != 1u || dims[1] % op->kh != 0 || dims[2] % op->kw != 0) {
            return LR_ERR_BAD_PARAMS;
        }
        n = (int64_t)(dims[1] / op->kh) * (int64_t)(dims[2] / op->kw);
        if (n > ((int64_t)1 << 23) || 255 * n >= (BOUND >> (s > 0 ? s : 0))) {
            return LR_ERR_BAD_PARAMS;
        }
        return LR_OK;
    }
    case LR_OP_TYPE_MUL:
        if (!LR_OP_ON(LR_OP_TYPE_MUL)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        return check_mul_i8(m, op);
    case LR_OP_TYPE_AFFINE: {
        if (!LR_OP_ON(LR_OP_TYPE_AFFINE)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        int32_t dims[LR_MAX_RANK];
        (void)lr_tensor_shape(m, (uint32_t)in0, dims);
        return check_affine_s8(m, op, (uint32_t)dims[0]);
    }
    case LR_OP_TYPE_CONV_TRANSPOSE2D:
        if (!LR_OP_ON(LR_OP_TYPE_CONV_TRANSPOSE2D)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        return check_conv_transpose_s8(m, op, scratch_words);
    case LR_OP_TYPE_RESIZE: {
        if (!LR_OP_ON(LR_OP_TYPE_RESIZE)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        const lr_status s = check_resize_s8(m, op);
        if (s != LR_OK) {
            return s;
        }
        break; /* and quantised as its input, below */
    }
    case LR_OP_TYPE_SIGMOID:
    case LR_OP_TYPE_HARDSWISH:
    case LR_OP_TYPE_TANH:
    case LR_OP_TYPE_LEAKY_RELU:
    case LR_OP_TYPE_PRELU:
    case LR_OP_TYPE_SILU:
    case LR_OP_TYPE_HARDSIGMOID:
        if (!(LR_OP_ON(LR_OP_TYPE_SIGMOID) || LR_OP_ON(LR_OP_TYPE_HARDSWISH) || LR_OP_ON(LR_OP_TYPE_TANH) ||
              LR_OP_ON(LR_OP_TYPE_LEAKY_RELU) || LR_OP_ON(LR_OP_TYPE_PRELU) || LR_OP_ON(LR_OP_TYPE_SILU) ||
              LR_OP_ON(LR_OP_TYPE_HARDSIGMOID))) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        return check_activation_i8(m, op);
    case LR_OP_TYPE_RELU:
    case LR_OP_TYPE_RELU6:
    case LR_OP_TYPE_CLAMP:
        if (!(LR_OP_ON(LR_OP_TYPE_RELU) || LR_OP_ON(LR_OP_TYPE_RELU6) || LR_OP_ON(LR_OP_TYPE_CLAMP))) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        if (op->n_mult == 0u) {
            break; /* TFLite's RELU6: the input clamped, quantised as the output (checked below) */
        }
        return check_activation_i8(m, op);
#if LR_OP_ON(LR_OP_TYPE_UNARY) /* no case label otherwise: other builds' switches unchanged */
    case LR_OP_TYPE_UNARY: /* its table (check_op) is all: no multipliers, any output quantisation */
        return op->n_mult == 0u ? LR_OK : LR_ERR_BAD_PARAMS;
#endif
    case LR_OP_TYPE_AVG_POOL2D:
        if (!LR_OP_ON(LR_OP_TYPE_AVG_POOL2D)) {
            return LR_ERR_UNSUPPORTED_OP; /* left out of this build (LR_OPS) */
        }
        /* padding counted or not (lr_avg_pool2d_s8_ref); the sum of a window, |sum| <= 128 kh kw, fits int32 */
        if ((int64_t)op->kh * (int64_t)op->kw > ((int64_t)1 << 23)) {
            return LR_ERR_BAD_PARAMS;
        }
        break;
    default:
        break;
    }
    /* pools and byte moves: no multipliers; every input quantised as the output */
    if (op->n_mult != n_mult_needed) {
        return LR_ERR_BAD_PARAMS;
    }
    for (i = 0; i < op->n_inputs; i++) {
        if (!same_quant(m, lr_op_input(m, op, i), op->output)) {
            where->tensor = lr_op_input(m, op, i);
            return LR_ERR_BAD_PARAMS;
        }
    }
    return LR_OK;
}
