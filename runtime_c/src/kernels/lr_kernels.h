/*
 * lr_kernels.h -- private interface of the op kernels (not installed).
 *
 * One kernel per op per file, named lr_<op>[_<variant>]_<dtype>_<impl>.c (CMSIS-NN's habit):
 * kernels/ref/ holds the plain-C99 reference kernels, which define the results bit for bit (every
 * build uses -ffp-contract=off, runtime.mk); optimised kernels go beside them (kernels/dsp/, ...)
 * and must match them bit for bit (kernels/README.md).
 *
 * Kernels know nothing of the graph, the arena plan or the verifier: the run path (lr_run.c) decodes
 * an op of a verified blob into a geometry (lr_geom) and the parameter structs below, and passes
 * tensors as plain float arrays. Weights stay in the blob (read in place; zero copy): parameters
 * hold pointers into it. Inputs are const, the output comes last. Tensors are [C, H, W] row-major
 * (no batch dimension) or flat [F]. No kernel checks its arguments: the blob was verified.
 */
#ifndef LR_KERNELS_H
#define LR_KERNELS_H

#include "lr_internal.h"

/*
 * Geometry of an op on one input (convs, pools), the one description of it: the input is [c, h, w],
 * the output [oc, oh, ow]. Convs: groups g split both into g groups of cin_g = c / g input and
 * cout_g = oc / g output channels; pools have groups 1 (cin_g = c, cout_g = oc = c). Output pixel
 * (oy, ox) reads input row oy*sh - pt + ky*dh and column ox*sw - pl + kx*dw for tap (ky, kx);
 * taps outside [0, h) x [0, w) are padding (skipped, or counted per the pool's rule).
 */
typedef struct lr_geom {
    int32_t c, h, w;     /* input */
    int32_t oc, oh, ow;  /* output */
    int32_t groups, cin_g, cout_g;
    int32_t kh, kw, sh, sw, dh, dw;
    int32_t pt, pl, pb, pr;
} lr_geom;

/* Dense weights of a CONV2D or LINEAR op, read in place: w is [oc][cin_g][kh][kw] (conv) or
 * [out][in] (linear), fp32, fp16 or int8; for int8, w = q * scale[o] (n_scale == 1: one scale). */
typedef struct lr_dense_params {
    lr_values w;
    lr_values scale; /* fp32 scales (int8 weights only; p NULL otherwise) */
    uint32_t n_scale;
    lr_values bias;  /* [oc] or [out]; p NULL: no bias */
} lr_dense_params;

/* The weights of a LINREP_CONV2D op: kernel n = o * cin_g + i is a[n] * T[idx[n]] + b[n] (see
 * lr_linrep_ab); with a kernel mask only kept kernels have idx, a and b (in kernel order). */
typedef struct lr_linrep_params {
    const unsigned char *blob; /* the positions in lr are byte offsets into it */
    lr_linrep lr;
    lr_values tmpl;            /* the codebook: k templates of kh * kw values, template-major */
    uint32_t k;
    lr_values bias;            /* [oc]; p NULL: no bias */
} lr_linrep_params;

/* Kernels of one output channel, [cin_g][kh][kw]: floats in RAM, or fp32 little-endian in the blob. */
typedef struct lr_weights {
    const float *f;          /* if not NULL */
    const unsigned char *le; /* otherwise */
} lr_weights;

/*
 * y[j] += w * x[j * s] for j < n: one row of one tap, the inner loop of both conv paths. Every
 * element gets the same single multiply and add whatever the loop shape, so results do not depend
 * on which form runs. Two forms, each where it measured faster (one form for both was measured on
 * branch c-redesign-one-row-madd: the unrolled one makes the direct path 8.6 % faster on Cortex-M4
 * but the dense 1x1 shortcuts slower):
 *   lr_row_madd_f32       plain loop (the direct conv: GCC vectorises it on the host);
 *   lr_row_madd_x4_f32    stride 1 unrolled by four (the reuse path's template responses: fewer
 *                         loop instructions on Cortex-M).
 */
static inline void lr_row_madd_f32(float *restrict y, const float *restrict x, int32_t n, int32_t s, float w)
{
    int32_t j;
    if (s == 1) {
        for (j = 0; j < n; j++) {
            y[j] += w * x[j];
        }
    } else {
        for (j = 0; j < n; j++) {
            y[j] += w * x[j * s];
        }
    }
}

static inline void lr_row_madd_x4_f32(float *restrict y, const float *restrict x, int32_t n, int32_t s, float w)
{
    int32_t j;
    if (s == 1) {
        for (j = 0; j + 4 <= n; j += 4) {
            y[j] += w * x[j];
            y[j + 1] += w * x[j + 1];
            y[j + 2] += w * x[j + 2];
            y[j + 3] += w * x[j + 3];
        }
        for (; j < n; j++) {
            y[j] += w * x[j];
        }
    } else {
        for (j = 0; j < n; j++) {
            y[j] += w * x[j * s];
        }
    }
}

/* y[j] += w * x[j * s] for j < n over int16 inputs into int32 sums (the int8 reference kernels' row of one
 * tap; stride 1 unrolled by four, as lr_row_madd_x4_f32). Integer sums: exact in any order. */
static inline void lr_row_madd_s16(int32_t *restrict y, const int16_t *restrict x, int32_t n, int32_t s, int32_t w)
{
    int32_t j;
    if (s == 1) {
        for (j = 0; j + 4 <= n; j += 4) {
            y[j] += w * x[j];
            y[j + 1] += w * x[j + 1];
            y[j + 2] += w * x[j + 2];
            y[j + 3] += w * x[j + 3];
        }
        for (; j < n; j++) {
            y[j] += w * x[j];
        }
    } else {
        for (j = 0; j < n; j++) {
            y[j] += w * x[j * s];
        }
    }
}

/* y[j] += w0 * x[j * s] + w1 * x[j * s + d] + w2 * x[j * s + 2 * d] for j < n: three taps of a kernel row in
 * one pass (the int8 reference reuse kernel's template responses and box sums). */
static inline void lr_row_madd3_s16(int32_t *restrict y, const int16_t *restrict x, int32_t n, int32_t s, int32_t d,
                                    int32_t w0, int32_t w1, int32_t w2)
{
    int32_t j;
    for (j = 0; j < n; j++) {
        const int16_t *xj = x + j * s;
        y[j] += w0 * xj[0] + w1 * xj[d] + w2 * xj[2 * d];
    }
}

/* ---- convolutions ------------------------------------------------------------------------------ */

/*
 * One output channel of a direct convolution (shared by the dense and the LinRep direct convs):
 * y[oy][ox] = sum_i sum_ky sum_kx w[i][ky][kx] * x[i][..][..], then + bias, for the cin_g input
 * channels at x. mask: kernel mask of the layer (NULL: none); input channel i of this output
 * channel is kernel mask_first + i, skipped when pruned (its slot in w is not read).
 */
void lr_conv2d_channel_f32_ref(const lr_geom *g, const float *x, lr_weights w, float bias, float *y,
                               const unsigned char *mask, uint32_t mask_first);

/* CONV2D with dense weights. Scratch: cin_g * kh * kw floats (fp16 and int8 weights). */
void lr_conv2d_f32_ref(const lr_geom *g, const float *x, const lr_dense_params *p, float *scratch, float *y);

/* LINREP_CONV2D, direct path: per output channel, its kernels rebuilt a * T[idx] + b, then convolved.
 * Scratch: k * kh * kw floats (the codebook decoded once) + cin_g * kh * kw floats. */
void lr_linrep_conv2d_direct_f32_ref(const lr_geom *g, const float *x, const lr_linrep_params *p,
                                     float *scratch, float *y);

/* LINREP_CONV2D, template reuse (see the file). Scratch: lr_linrep_conv2d_reuse_scratch floats. */
void lr_linrep_conv2d_reuse_f32_ref(const lr_geom *g, const float *x, const lr_linrep_params *p,
                                    void *scratch, float *y);
/* Scratch of the reuse path in 4-byte units for a codebook of k templates (may exceed 32 bits:
 * the caller checks), and its output rows per tile in *tile_rows (may be NULL). */
uint64_t lr_linrep_conv2d_reuse_scratch(const lr_geom *g, uint32_t k, int32_t *tile_rows);

/* CONV_TRANSPOSE2D with dense fp32 / fp16 weights [c][cout_g][kh][kw] (geometry: input [c, h, w], output
 * [oc, oh, ow], pads symmetric; see the file). No scratch. */
void lr_conv_transpose2d_f32_ref(const lr_geom *g, const float *x, const lr_dense_params *p, float *y);

/* CONV_TRANSPOSE2D with LinRep weights over the kernel grid (c, cout_g): per input channel, its kernels
 * rebuilt a * T[idx] + b, then scattered as the dense kernel does (see the file). a/b scales (integer a/b)
 * are per input channel. Scratch: (k + cout_g) * kh * kw floats. */
void lr_linrep_conv_transpose2d_f32_ref(const lr_geom *g, const float *x, const lr_linrep_params *p,
                                        float *scratch, float *y);

/* ---- other ops ----------------------------------------------------------------------------------- */

void lr_linear_f32_ref(const float *x, uint32_t in, uint32_t out, const lr_dense_params *p, float *y);
void lr_max_pool2d_f32_ref(const lr_geom *g, const float *x, float *y);
void lr_avg_pool2d_f32_ref(const lr_geom *g, int count_include_pad, const float *x, float *y);
void lr_adaptive_avg_pool2d_f32_ref(const lr_geom *g, const float *x, float *y);
void lr_relu_f32_ref(const float *x, uint32_t n, float *y);
void lr_relu6_f32_ref(const float *x, uint32_t n, float *y);
void lr_leaky_relu_f32_ref(const float *x, uint32_t n, float alpha, float *y);
void lr_prelu_f32_ref(const float *x, uint32_t c, uint32_t inner, lr_values slopes, uint32_t n_slopes, float *y);
/* exp, exp - 1, tanh, log(1 + x) and erfc from +, -, *, / alone (kernels/ref/lr_math_f32_ref.c): the same bits on
 * every build, unlike the C library's expf / tanhf; NaN in, NaN out. */
float lr_expf(float x);
float lr_expm1f(float x);
float lr_tanhf(float x);
float lr_log1pf(float x);
float lr_erfcf(float x);
void lr_sigmoid_f32_ref(const float *x, uint32_t n, float *y);
void lr_hardswish_f32_ref(const float *x, uint32_t n, float *y);
void lr_softmax_f32_ref(const float *x, uint32_t n, float *y);
void lr_add_f32_ref(const float *a, const float *b, uint32_t n, float *y);
/* Format version 3. */
void lr_tanh_f32_ref(const float *x, uint32_t n, float *y);
void lr_hardsigmoid_f32_ref(const float *x, uint32_t n, float *y);
void lr_silu_f32_ref(const float *x, uint32_t n, float *y);
void lr_clamp_f32_ref(const float *x, uint32_t n, float lo, float hi, float *y);
void lr_mul_f32_ref(const float *a, const float *b, uint32_t n, float *y);
/* ADD / MUL with b broadcast over channels: a is [c][inner], b has one value per channel. */
void lr_add_channel_f32_ref(const float *a, const float *b, uint32_t c, uint32_t inner, float *y);
void lr_mul_channel_f32_ref(const float *a, const float *b, uint32_t c, uint32_t inner, float *y);
/* SOFTMAX over the c channels of each of the inner pixels of [c][inner]. */
void lr_softmax_channel_f32_ref(const float *x, uint32_t c, uint32_t inner, float *y);
/* RESIZE: nearest with integer factors (g: input c, h, w; output oh, ow), bilinear (modes 1 and 2). */
void lr_resize_nearest_f32_ref(const lr_geom *g, int any, const float *x, float *y);
void lr_resize_bilinear_f32_ref(const lr_geom *g, int align_corners, const float *x, float *y);
/* PAD by g->pt, pl, pb, pr with `value` (g: input c, h, w; output oh, ow). */
void lr_pad_f32_ref(const lr_geom *g, float value, const float *x, float *y);
/* PAD (fp32 and int8, format version 6) with the border from the input: mode 1 reflect, 2 replicate (torch's
 * names); elements of `elem` bytes; mode 1 needs every pad < the size along its axis. */
void lr_pad_edge_ref(const lr_geom *g, uint32_t mode, const void *x, size_t elem, void *y);
/* SLICE: n contiguous values from x (the run path passes x + start * inner). */
void lr_slice_f32_ref(const float *x, uint32_t n, float *y);
/* CHANNEL_SHUFFLE (fp32 and int8): output plane j * groups + i = input plane i * (c / groups) + j, planes of
 * `plane` bytes (groups divides c). */
void lr_channel_shuffle_ref(const void *x, uint32_t c, uint32_t groups, size_t plane, void *y);
/*
 * RESIZE nearest along one axis of `in` -> `out` elements (both 1 .. 65535): the source index of output index dst.
 * Integer multiples (`any` 0, mode 0): dst / (out / in). Any size (mode 3, format version 8): min(floor(dst * ratio),
 * in - 1) with ratio = in / out and the product each rounded to float32 (nearest, ties to even) as torch and TFLite
 * compute them in float -- here in integers, so that an int8 model on a core without an FPU links no soft-float
 * routine: ratio = m * 2^-k with m of 24 bits from long division, the product dst * m (< 2^40) rounded to 24
 * significant bits, then shifted right by k.
 */
typedef struct lr_nearest_axis {
    int32_t in, factor; /* factor: out / in for mode 0; 0 for any size */
    uint32_t m, k;      /* any size: the float32 ratio in / out = m * 2^-k, 2^23 <= m < 2^24 */
} lr_nearest_axis;

static inline void lr_nearest_axis_init(lr_nearest_axis *a, int32_t in, int32_t out, int any)
{
    uint32_t q = (uint32_t)(in / out), r = (uint32_t)(in % out), k = 0u;
    a->in = in;
    a->factor = any ? 0 : out / in;
    while (any && q < (1u << 23)) { /* the quotient's bits, one at a time (r < out < 2^16: no overflow) */
        r <<= 1;
        q = (q << 1) | (r >= (uint32_t)out ? 1u : 0u);
        r = r >= (uint32_t)out ? r - (uint32_t)out : r;
        k++;
    }
    if (any && (2u * r > (uint32_t)out || (2u * r == (uint32_t)out && (q & 1u) != 0u))) {
        q++; /* to nearest, ties to even */
        if (q == (1u << 24)) {
            q = 1u << 23;
            k--;
        }
    }
    a->m = q;
    a->k = k;
}

static inline int32_t lr_nearest_src(const lr_nearest_axis *a, int32_t dst)
{
    uint64_t p, keep, rem, half;
    uint32_t s = 0u;
    int32_t i;
    if (a->factor != 0) {
        return dst / a->factor;
    }
    p = (uint64_t)(uint32_t)dst * a->m;
    while ((p >> (24u + s)) != 0u) {
        s++;
    }
    if (s != 0u) { /* to 24 significant bits, nearest, ties to even */
        keep = p >> s;
        rem = p - (keep << s);
        half = (uint64_t)1u << (s - 1u);
        keep += (rem > half || (rem == half && (keep & 1u) != 0u)) ? 1u : 0u;
        p = keep << s;
    }
    i = (int32_t)(p >> a->k);
    return i < a->in - 1 ? i : a->in - 1;
}

/* PIXEL_SHUFFLE (format version 8, fp32 and int8): depth [c r^2, h, w] to space [c, h r, w r] (mode 0, 2) or back
 * (mode 1, 3); depth channel c r^2 + i r + j (modes 0, 1) or (i r + j) c + ch (2, 3) is space pixels (h r + i,
 * w r + j) of channel c; elements of `elem` bytes; (c, h, w) are the depth side's channels / r^2 and its size. */
void lr_pixel_shuffle_ref(const void *x, uint32_t c, uint32_t h, uint32_t w, uint32_t r, uint32_t mode, size_t elem,
                          void *y);
/* SUB (format version 7): a - b, or b holding one value per channel of a ([c][inner]). */
void lr_sub_f32_ref(const float *a, const float *b, uint32_t n, float *y);
void lr_sub_channel_f32_ref(const float *a, const float *b, uint32_t c, uint32_t inner, float *y);
/* UNARY (format version 7): y[i] = f(x[i]) for the Unary fn (LR_UNARY_*, below LR_UNARY_COUNT) with its alpha and
 * beta (lr_schema.h; x may be y). */
void lr_unary_f32_ref(const float *x, uint32_t n, uint32_t fn, float alpha, float beta, float *y);
/* UNARY of an int8 model: y[i] = table[(uint8_t)x[i]], the 256-byte table of the op (x may be y). */
void lr_unary_s8_ref(const int8_t *x, uint32_t n, const int8_t *table, int8_t *y);
/* TRANSPOSE_HWC: [c][hw] -> [hw][c]. */
void lr_transpose_hwc_f32_ref(const float *x, uint32_t c, uint32_t hw, float *y);
/* AFFINE: x [c][inner] * weight[ch] + bias[ch] (bias.p NULL: none), fp32 or fp16 read in place. */
void lr_affine_f32_ref(const float *x, uint32_t c, uint32_t inner, lr_values weight, lr_values bias, float *y);
/* CONCAT along channels of [C, H, W] tensors is concatenation in memory: the run path calls this
 * once per input, in order, with y advanced past the inputs before it. */
void lr_concat_f32_ref(const float *x, uint32_t n, float *y);
void lr_reshape_f32_ref(const float *x, uint32_t n, float *y);

/* ---- int8 kernels (format version 4, docs/INTEGER.md): integers only ------------------------------ */

/* Requantisation of an op's int32 accumulators: multiplier / shift [n] (n = 1: one for every channel),
 * then + zp_out, clamped to [act_min, act_max]. Vectors are read in place (little-endian). */
typedef struct lr_requant_s8 {
    const unsigned char *mult;  /* int32 */
    const unsigned char *shift; /* int8 */
    uint32_t n;
    int32_t zp_out, act_min, act_max;
} lr_requant_s8;

/* Channel o's multiplier and shift. */
static inline int32_t lr_rq_mult(const lr_requant_s8 *q, uint32_t o)
{
    return lr_lei32(q->mult + 4u * (q->n == 1u ? 0u : o));
}

static inline int32_t lr_rq_shift(const lr_requant_s8 *q, uint32_t o)
{
    return lr_s8(q->shift[q->n == 1u ? 0u : o]);
}

/* CONV2D / LINEAR of an int8 model: int8 weights (zero point 0) read in place, int32 bias (NULL: 0). */
typedef struct lr_dense_s8_params {
    const unsigned char *w;    /* [oc][cin_g][kh][kw] or [out][in] */
    const unsigned char *bias; /* int32 [oc] */
    int32_t in_offset;         /* -zp_in */
    lr_requant_s8 rq;
} lr_dense_s8_params;

/* LINREP_CONV2D of an int8 model: kernel W[o,i,k] = a_q * t_q[idx, k] * 2^max(0, -e[o]) + b_q *
 * 2^max(0, e[o]) (docs/INTEGER.md section 3); with a kernel mask, pruned kernels are 0. */
typedef struct lr_linrep_s8_params {
    const unsigned char *blob;
    lr_linrep lr;
    const unsigned char *tmpl; /* int8 codebook: k templates of kh * kw values */
    uint32_t k;
    const unsigned char *bexp; /* int8 [oc] */
    const unsigned char *bias; /* int32 [oc] or NULL */
    int32_t in_offset;
    lr_requant_s8 rq;
} lr_linrep_s8_params;

/* ADD of an int8 model: multipliers / shifts [in0, in1, out] (TFLite's, left shift 20). */
typedef struct lr_add_s8_params {
    int32_t mult[3], shift[3];
    int32_t zp0, zp1, zp_out, act_min, act_max;
} lr_add_s8_params;

/* SUB of an int8 model (format version 7): TFLite's SUB, ADD's integers and arithmetic with the second input's
 * rescaled value subtracted; inner 0: a and b of c elements each; inner > 0: a [c][inner], b one value per channel. */
void lr_sub_s8_ref(const int8_t *a, const int8_t *b, uint32_t c, uint32_t inner, const lr_add_s8_params *p, int8_t *y);

/* One output channel: int32 kernels w [cin_g][kh][kw] over the cin_g input channels at x, into y [oh][ow]. */
void lr_conv2d_channel_s8_ref(const lr_geom *g, const int8_t *x, const int32_t *w, int32_t bias, int32_t in_offset,
                              int32_t mult, int32_t shift, const lr_requant_s8 *rq, int8_t *y);
/* Scratch: cin_g * kh * kw words (one output channel's weights widened to int32). */
void lr_conv2d_s8_ref(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int32_t *scratch, int8_t *y);
void lr_linear_s8_ref(const int8_t *x, uint32_t in, uint32_t out, const lr_dense_s8_params *p, int8_t *y);
/* Direct path: W of one output channel rebuilt as int32 in scratch (cin_g * kh * kw words). */
void lr_linrep_conv2d_direct_s8_ref(const lr_geom *g, const int8_t *x, const lr_linrep_s8_params *p,
                                    int32_t *scratch, int8_t *y);
/* Template reuse in tiles of whole output rows (pruned kernels of a kernel mask add nothing): per input channel
 * a zero-padded int16 band of x + in_offset, its box sums S and the responses R of the templates its kernels use,
 * shared by the output channels (see the file). _n takes the scratch size in int32 words: any words >=
 * lr_linrep_conv2d_reuse_s8_ref_scratch_min(g, k) (the fixed part and one output row; more words: taller tiles).
 * The five-argument form takes lr_linrep_conv2d_reuse_s8_ref_scratch(g, k) words: tiles of at least
 * LR_REUSE_S8_TILE_PX pixels (whole rows, at most the output's). */
void lr_linrep_conv2d_reuse_s8_ref_n(const lr_geom *g, const int8_t *x, const lr_linrep_s8_params *p,
                                     int32_t *scratch, uint32_t words, int8_t *y);
void lr_linrep_conv2d_reuse_s8_ref(const lr_geom *g, const int8_t *x, const lr_linrep_s8_params *p,
                                   int32_t *scratch, int8_t *y);
/* Its scratch in int32 words, least and preferred: k + 4 * cout_g words of template bookkeeping (k: the
 * codebook's templates), then per tile of th output rows acc [cout_g][th * ow], R and S [th * ow] and the int16
 * band ((th - 1) * sh + (kh - 1) * dh + 1 input rows of (ow - 1) * sw + (kw - 1) * dw + 1 values). */
uint64_t lr_linrep_conv2d_reuse_s8_ref_scratch_min(const lr_geom *g, uint32_t k);
uint64_t lr_linrep_conv2d_reuse_s8_ref_scratch(const lr_geom *g, uint32_t k);

/* The optimised LinRep direct path rebuilds the int16 kernels of a block of output channels (of one group) at
 * once and gathers each pixel's im2col column once per block. The caller gives it `words` of scratch (at least
 * lr_linrep_conv2d_direct_s8_scratch_min): two int16 columns (per = cin_g * kh * kw int16 values each, per words)
 * then the block's int16 kernels, as many channels as the rest holds, at most the group's cout_g (0: too little
 * scratch for one channel; then every channel runs with its int32 kernels, per words). */
static inline uint32_t lr_direct_s8_block(uint32_t per, uint32_t cout_g, uint64_t words)
{
    /* 32-bit arithmetic (no 64-bit division in the run path): words above 2^30 hold every channel anyway */
    const uint32_t w = words < 0x40000000u ? (uint32_t)words : 0x40000000u;
    const uint32_t b = per > 0u && w > per ? 2u * (w - per) / per : 0u;
    return b < cout_g ? b : cout_g;
}

/* The scratch words the optimised direct path prefers: blocks of as many channels as LR_DIRECT_S8_WORDS words
 * of int16 kernels hold (at least 4, at most cout_g), after the two columns. */
#define LR_DIRECT_S8_WORDS 2048u
static inline uint64_t lr_linrep_conv2d_direct_s8_scratch(uint32_t per, uint32_t cout_g)
{
#if LR_OPT_ON(LR_OPT_LINREP)
    uint32_t b = per > 0u ? 2u * LR_DIRECT_S8_WORDS / per : 4u;
    b = b < 4u ? 4u : b;
    b = b < cout_g ? b : cout_g;
    return (uint64_t)per + ((uint64_t)per * (b < 2u ? 2u : b) + 1u) / 2u;
#else
    (void)cout_g;
    return per;
#endif
}

/* The least scratch words of the int8 LinRep direct path (either build): one output channel's kernels as int32. */
static inline uint64_t lr_linrep_conv2d_direct_s8_scratch_min(uint32_t per)
{
    return per;
}

/* Optimised int8 kernels (kernels/opt/; the run path calls those of the kinds -DLR_OPT_KERNELS selects, from
 * runtime.mk's LR_KERNELS: every kind by default, none with LR_KERNELS=ref): the same arguments,
 * scratch and results (bit for bit) as the _ref kernel of the same name. */
void lr_conv2d_s8_opt(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int32_t *scratch, int8_t *y);
/* The same with `words` int32 words of scratch: convs with one input channel per group, 3 x 3, kh x 5 or kh x 7
 * (kh <= 7), dilation 1, stride 1 (depthwise, a one-channel stem) or 2 (depthwise) take a padded copy of each input
 * channel when words >= lr_conv2d_s8_opt_plane_words(g) (0 for other shapes, which use the scratch as
 * lr_conv2d_s8_opt); fewer words: as lr_conv2d_s8_opt. The run path asks for the plane as the op's preferred scratch. */
void lr_conv2d_s8_opt_n(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int32_t *scratch,
                        uint32_t words, int8_t *y);
uint64_t lr_conv2d_s8_opt_plane_words(const lr_geom *g);
void lr_linear_s8_opt(const int8_t *x, uint32_t in, uint32_t out, const lr_dense_s8_params *p, int8_t *y);
/* Direct path, optimised: the kernels W of a block of output channels rebuilt as int16 (when they fit)
 * and run through the dense opt conv's im2col and SIMD / portable dot products; a block whose W exceeds int16
 * runs per channel as the reference; small blocks of 3-wide kernels (depthwise convs: blocks of one) run per
 * channel straight from the int8 input (no columns). Scratch: `words` int32 words, any number from
 * lr_linrep_conv2d_direct_s8_scratch_min (per channel with int32 kernels) up; more gives bigger blocks
 * (lr_direct_s8_block), lr_linrep_conv2d_direct_s8_scratch is the preferred size. */
void lr_linrep_conv2d_direct_s8_opt(const lr_geom *g, const int8_t *x, const lr_linrep_s8_params *p,
                                    int32_t *scratch, uint32_t words, int8_t *y);
/* The optimised direct path's preferred scratch words for the conv g: lr_linrep_conv2d_direct_s8_scratch, or, in
 * builds with the fast paths, for one input channel, 3 x 3, kh x 5 or kh x 7 (lr_conv2d_s8_opt_plane_words), stride 1
 * and at most a few output channels per group (every depthwise 3 x 3, 5 x 5 and 7 x 7 conv; stride 2: depthwise
 * only), the padded input channel (lr_conv2d_s8_opt_plane_words) and one channel's int32 kernels if more: given that
 * many words the kernel takes the plane; fewer: as above. */
uint64_t lr_linrep_conv2d_direct_s8_scratch_pref(const lr_geom *g);
/* Template reuse, optimised (kernels/opt/lr_linrep_conv2d_reuse_s8_opt.c): tiles of whole output rows, the
 * responses of each input channel's used templates and its box sums as a one-channel dense conv (int16
 * columns and templates, SMLAD), then a' R + b' S per kept kernel. _n takes the scratch size in int32
 * words: any words >= lr_linrep_conv2d_reuse_s8_opt_scratch_min(g, k) (the fixed part and one output row, with
 * 3 x 3 kernels of dilation 1 in x also that row's padded input rows; more words: more rows per tile, fewer passes
 * over the kernels' indices and a/b). p->in_offset is -zp_in, in [-127, 128] (the padding value -in_offset is an
 * int8). The five-argument form
 * takes lr_linrep_conv2d_reuse_s8_opt_scratch(g, k) words: tiles of at least LR_REUSE_S8_TILE_PX pixels
 * (whole rows, at most the output's). */
#define LR_REUSE_S8_TILE_PX 64u
uint64_t lr_linrep_conv2d_reuse_s8_opt_scratch_min(const lr_geom *g, uint32_t k);
uint64_t lr_linrep_conv2d_reuse_s8_opt_scratch(const lr_geom *g, uint32_t k);
/* The least words with which it runs its template-stationary path (3 x 3 kernels, dilation 1 in x, not in -Os
 * builds: one output row and its column words; = _min otherwise): what the plan gives it at the least. */
uint64_t lr_linrep_conv2d_reuse_s8_opt_scratch_fast(const lr_geom *g, uint32_t k);
void lr_linrep_conv2d_reuse_s8_opt_n(const lr_geom *g, const int8_t *x, const lr_linrep_s8_params *p,
                                     int32_t *scratch, uint32_t words, int8_t *y);
void lr_linrep_conv2d_reuse_s8_opt(const lr_geom *g, const int8_t *x, const lr_linrep_s8_params *p,
                                   int32_t *scratch, int8_t *y);
/* The scratch words the run path gives the int8 reuse kernel of this build (the optimised one's default
 * unless LR_KERNELS=ref). */
static inline uint64_t lr_linrep_conv2d_reuse_s8_scratch(const lr_geom *g, uint32_t k)
{
#if LR_OPT_ON(LR_OPT_LINREP)
    return lr_linrep_conv2d_reuse_s8_opt_scratch(g, k);
#else
    return lr_linrep_conv2d_reuse_s8_ref_scratch(g, k);
#endif
}
/* The least scratch words the plan gives the int8 reuse kernel of this build (one output row per tile; the optimised
 * kernel's template-stationary path where it has one: below that an AUTO op runs the direct path). */
static inline uint64_t lr_linrep_conv2d_reuse_s8_scratch_least(const lr_geom *g, uint32_t k)
{
#if LR_OPT_ON(LR_OPT_LINREP)
    return lr_linrep_conv2d_reuse_s8_opt_scratch_fast(g, k);
#else
    return lr_linrep_conv2d_reuse_s8_ref_scratch_min(g, k);
#endif
}
void lr_add_s8_ref(const int8_t *a, const int8_t *b, uint32_t n, const lr_add_s8_params *p, int8_t *y);
/* The same with b holding one value per channel of a ([c][inner]): TFLite's broadcast ADD. */
void lr_add_channel_s8_ref(const int8_t *a, const int8_t *b, uint32_t c, uint32_t inner, const lr_add_s8_params *p,
                           int8_t *y);
/* The same, optimised (kernels/opt/lr_add_s8_opt.c): 32-bit input rescaling, one 64-bit multiply-add out. */
void lr_add_s8_opt(const int8_t *a, const int8_t *b, uint32_t n, const lr_add_s8_params *p, int8_t *y);
/* The same with `words` int32 words of scratch at tab: from LR_ADD_S8_TAB_WORDS on, both inputs' rescaled values
 * tabulated for every int8 first (two table loads per element); fewer words: lr_add_s8_opt. The run path asks
 * for the table (as an op's preferred scratch, none least) from LR_ADD_S8_TAB_MIN elements on. */
#define LR_ADD_S8_TAB_WORDS 512u
#define LR_ADD_S8_TAB_MIN 1024u
void lr_add_s8_opt_n(const int8_t *a, const int8_t *b, uint32_t n, const lr_add_s8_params *p, int32_t *tab,
                     uint32_t words, int8_t *y);
/* Pools: in and out quantised alike; max over / average of the in-bounds taps, clamped. */
void lr_max_pool2d_s8_ref(const lr_geom *g, int32_t act_min, int32_t act_max, const int8_t *x, int8_t *y);
void lr_avg_pool2d_s8_ref(const lr_geom *g, int count_include_pad, int32_t zp, int32_t act_min, int32_t act_max,
                          const int8_t *x, int8_t *y);
void lr_adaptive_avg_pool2d_s8_ref(const lr_geom *g, int32_t act_min, int32_t act_max, const int8_t *x, int8_t *y);
/* TFLite's MEAN as an adaptive average pool whose bins are all alike (g->h % g->oh == 0, g->w % g->ow == 0),
 * n = (h / oh) * (w / ow) values each: the multiplier holds 1/n; |sum - zp_in * n| * 2^max(shift, 0) < 2^31. */
void lr_mean_s8_ref(const lr_geom *g, int32_t zp_in, int32_t mult, int32_t shift, int32_t zp_out, int32_t act_min,
                    int32_t act_max, const int8_t *x, int8_t *y);
/* SOFTMAX (TFLite's int8 reference) over the c values of each of the inner positions of [c][inner]
 * (inner = 1 for a [F] tensor): beta multiplier / shift, diff_min; output scale 1/256, zero point -128. */
void lr_softmax_s8_ref(const int8_t *x, uint32_t c, uint32_t inner, int32_t mult, int32_t shift, int32_t diff_min,
                       int8_t *y);
/* ---- int8 MUL, AFFINE, RESIZE, CONV_TRANSPOSE2D (docs/INTEGER.md section 2) ---- */
/* MUL of an int8 model: TFLite's int8 MUL, one multiplier from s0 * s1 / s_out. */
typedef struct lr_mul_s8_params {
    int32_t zp0, zp1, zp_out, mult, shift, act_min, act_max;
} lr_mul_s8_params;
/* a [c][inner] times b of the same shape, or (b_per_channel) one b value per channel; shift <= 15. */
void lr_mul_s8_ref(const int8_t *a, const int8_t *b, uint32_t c, uint32_t inner, int b_per_channel,
                   const lr_mul_s8_params *p, int8_t *y);
/* The same, optimised (kernels/opt/lr_mul_s8_opt.c, kind LR_OPT_ADD): the requantisation by lr_opt_requant. a may
 * be y. */
void lr_mul_s8_opt(const int8_t *a, const int8_t *b, uint32_t c, uint32_t inner, int b_per_channel,
                   const lr_mul_s8_params *p, int8_t *y);
/* AFFINE as a depthwise 1x1 conv over [c][inner]: int8 weight and int32 bias per channel, multipliers [c] or [1]. */
void lr_affine_s8_ref(const int8_t *x, uint32_t c, uint32_t inner, const lr_dense_s8_params *p, int8_t *y);
/* RESIZE mode 0 (nearest, integer factors): bytes moved (in and out quantised alike). */
void lr_resize_nearest_s8_ref(const lr_geom *g, int any, const int8_t *x, int8_t *y);
/* RESIZE modes 1 (half pixel centers) and 2 (align corners): TFLite's integer bilinear, 10 fractional bits. */
void lr_resize_bilinear_s8_ref(const lr_geom *g, int align_corners, const int8_t *x, int8_t *y);
/* The same, optimised (kernels/opt/lr_resize_bilinear_s8_opt.c, kind LR_OPT_CONV): each row's vertical sums first. */
void lr_resize_bilinear_s8_opt(const lr_geom *g, int align_corners, const int8_t *x, int8_t *y);
/* TFLite's integer bilinear step along an axis of `in` values resized to `out`, 10 fractional bits (the one rule of
 * both kernels). */
int32_t lr_resize_bilinear_s8_scale(int32_t in, int32_t out, int align_corners);
/* Whether TFLite's integer bilinear stays inside an axis of `in` values resized to `out` (1 <= in, out <= 32767):
 * its lower index (not clamped above, as in TFLite) must not pass in - 1; the verifier refuses the others. */
int lr_resize_bilinear_s8_axis_ok(int32_t in, int32_t out, int align_corners);
/* CONV_TRANSPOSE2D with dense int8 weights [c][cout_g][kh][kw], per-output-channel requantisation.
 * Scratch: oh * ow int32 words (one output channel's accumulators). */
void lr_conv_transpose2d_s8_ref(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int32_t *scratch,
                                int8_t *y);
/* A LinRep CONV_TRANSPOSE2D (grid (c, cout_g)), direct path: each kernel's integers rebuilt, then the dense scatter.
 * Scratch: oh * ow + kh * kw int32 words. */
void lr_linrep_conv_transpose2d_s8_ref(const lr_geom *g, const int8_t *x, const lr_linrep_s8_params *p,
                                       int32_t *scratch, int8_t *y);
/* The two, optimised (kernels/opt/lr_conv_transpose2d_s8_opt.c; kinds LR_OPT_CONV and LR_OPT_LINREP): blocks of four
 * input pixels take up to 32 input channels in registers. Scratch: the references' at least (the LinRep kernel takes
 * `words`, the scratch given); lr_conv_transpose2d_s8_opt_scratch(g, 1) words let a LinRep output channel's kernels
 * be rebuilt once instead of once per tap. */
uint64_t lr_conv_transpose2d_s8_opt_scratch(const lr_geom *g, int linrep);
void lr_conv_transpose2d_s8_opt(const lr_geom *g, const int8_t *x, const lr_dense_s8_params *p, int32_t *scratch,
                                int8_t *y);
void lr_linrep_conv_transpose2d_s8_opt(const lr_geom *g, const int8_t *x, const lr_linrep_s8_params *p,
                                       int32_t *scratch, uint64_t words, int8_t *y);

/* ---- int8 elementwise activations (docs/INTEGER.md section 6) ---- */
/* gemmlowp's fixed-point functions (kernels/ref/lr_fixedpoint_ref.c; docs/INTEGER.md sections 4, 6), shared by
 * the int8 SOFTMAX, SIGMOID and TANH. Qm = a Qm.(31 - m) int32. lr_sat_shl: x * 2^e saturated, 1 <= e <= 30.
 * lr_exp_on_negative_values: exp(a) of a Q(integer_bits) a <= 0 (integer_bits 1..5), Q0.31.
 * lr_one_over_one_plus_x, lr_one_minus_x_over_one_plus_x: x in [0, 1) Q0.31, Q0.31 results.
 * lr_logistic_q31 / lr_tanh_q31: of a Q(integer_bits) a != INT32_MIN (tanh: integer_bits <= 4), Q0.31. */
int32_t lr_sat_shl(int32_t x, int32_t e);
int32_t lr_exp_on_negative_values(int32_t a, int32_t integer_bits);
int32_t lr_one_over_one_plus_x(int32_t a);
int32_t lr_one_minus_x_over_one_plus_x(int32_t a);
int32_t lr_logistic_q31(int32_t a, int32_t integer_bits);
int32_t lr_tanh_q31(int32_t a, int32_t integer_bits);
/* SIGMOID (TFLite's int8 LOGISTIC) of n values: input zero point, Q4.27 input multiplier / shift (0..30), input
 * radius; output scale 1/256, zero point -128. */
void lr_sigmoid_s8_ref(const int8_t *x, uint32_t n, int32_t zp_in, int32_t mult, int32_t shift, int32_t radius,
                       int8_t *y);
/* TANH (TFLite's int8 TANH): as SIGMOID; output scale 1/128, zero point 0. */
void lr_tanh_s8_ref(const int8_t *x, uint32_t n, int32_t zp_in, int32_t mult, int32_t shift, int32_t radius,
                    int8_t *y);
/* Standalone RELU / RELU6 / CLAMP: requant = 1: zp_out + MBQM(x - zp_in, mult, shift) (255 * 2^max(shift, 0) <
 * 2^31), else x; clamped to [act_min, act_max]. */
typedef struct {
    int32_t requant, zp_in, zp_out, mult, shift, act_min, act_max;
} lr_clamp_s8_params;
void lr_clamp_s8_ref(const int8_t *x, uint32_t n, const lr_clamp_s8_params *p, int8_t *y);
/* LEAKY_RELU (TFLite's int8 LEAKY_RELU): identity and alpha multipliers (255 * 2^max(shift, 0) < 2^31). */
typedef struct {
    int32_t zp_in, zp_out, mult_identity, shift_identity, mult_alpha, shift_alpha;
} lr_leaky_relu_s8_params;
void lr_leaky_relu_s8_ref(const int8_t *x, uint32_t n, const lr_leaky_relu_s8_params *p, int8_t *y);
/* PRELU (TFLite's int8 PRELU) over [c][inner]: identity and alpha multipliers, the slopes' zero point and
 * n_alpha (1 or c) int8 slopes stored as little-endian int32 words at `alpha`. */
typedef struct {
    int32_t zp_in, zp_out, mult_identity, shift_identity, mult_alpha, shift_alpha, zp_alpha;
    uint32_t n_alpha;
    const unsigned char *alpha;
} lr_prelu_s8_params;
void lr_prelu_s8_ref(const int8_t *x, uint32_t c, uint32_t inner, const lr_prelu_s8_params *p, int8_t *y);
/* SILU as TFLite's LOGISTIC then MUL: SIGMOID's constants, then the MUL multiplier (255 * 255 * 2^max(shift, 0)
 * < 2^31). */
typedef struct {
    int32_t zp_in, zp_out, mult_logistic, shift_logistic, radius, mult_mul, shift_mul;
} lr_silu_s8_params;
void lr_silu_s8_ref(const int8_t *x, uint32_t n, const lr_silu_s8_params *p, int8_t *y);
/* HARDSWISH (TFLite's int8 HARD_SWISH): int16 multipliers (0 .. 32767) and exponents, output -15 .. 0, reluish
 * -15 .. 30. */
typedef struct {
    int32_t zp_in, zp_out;
    int32_t out_mult, out_exp;
    int32_t rel_mult, rel_exp;
} lr_hardswish_s8_params;
void lr_hardswish_s8_ref(const int8_t *x, uint32_t n, const lr_hardswish_s8_params *p, int8_t *y);
/* HARD_SWISH's reluish value (x + 3) / 6 as int16 Q15 (0 .. 32767) of hires = (x - zp_in) * 2^7. */
int32_t lr_reluish_q15(int32_t hires, int32_t rel_mult, int32_t rel_exp);
/* HARDSIGMOID (ours): the reluish value, then zp_out + MBQM(r, out_mult, out_exp) (a Q31 multiplier and TFLite
 * shift here, 32767 * 2^max(out_exp, 0) < 2^31), clamped. */
void lr_hardsigmoid_s8_ref(const int8_t *x, uint32_t n, const lr_hardswish_s8_params *p, int8_t *y);
/* An elementwise activation above (or one channel of PRELU, MUL by a per-channel gate, AFFINE) through a table
 * (kernels/opt/lr_table_s8_opt.c, kind LR_OPT_ACT): y[i] = table[(uint8_t)x[i]] for the n values (x may be y),
 * where table (LR_ACT_S8_TAB_BYTES bytes) holds at byte v the op's reference output for the input byte v. The run
 * path builds the table in the op's preferred scratch (none least) by running the reference on the 256 int8s, from
 * LR_ACT_S8_TAB_MIN values (per channel where the function is per channel) on (lr_op_act_table). */
#define LR_ACT_S8_TAB_BYTES 256u
#define LR_ACT_S8_TAB_MIN 512u
void lr_table_s8_opt(const int8_t *x, uint32_t n, const int8_t *table, int8_t *y);
/* Byte moves (every tensor quantised alike). */
void lr_reshape_s8_ref(const int8_t *x, uint32_t n, int8_t *y);
void lr_slice_s8_ref(const int8_t *x, uint32_t n, int8_t *y);
void lr_concat_s8_ref(const int8_t *x, uint32_t n, int8_t *y);
void lr_transpose_hwc_s8_ref(const int8_t *x, uint32_t c, uint32_t hw, int8_t *y);
void lr_pad_s8_ref(const lr_geom *g, int8_t value, const int8_t *x, int8_t *y);

/* ---- kernel arguments from a verified op (the reader, lr_read.c) ------------------------------ */

/* Geometry of op `op` (its input 0 and output tensors; groups 1 unless a conv or a transposed conv). */
void lr_op_geom(const lr_model *m, const lr_op *op, lr_geom *g);
/* Weights, scales and bias of a CONV2D, CONV_TRANSPOSE2D or LINEAR op. */
void lr_op_dense_params(const lr_model *m, const lr_op *op, lr_dense_params *p);
/* Weights and bias of a LINREP_CONV2D op. */
void lr_op_linrep_params(const lr_model *m, const lr_op *op, lr_linrep_params *p);
/* Int8 models: the requantisation, the dense and the LinRep integer parameters of an op. */
void lr_op_requant_s8(const lr_model *m, const lr_op *op, lr_requant_s8 *q);
void lr_op_dense_s8_params(const lr_model *m, const lr_op *op, lr_dense_s8_params *p);
void lr_op_linrep_s8_params(const lr_model *m, const lr_op *op, lr_linrep_s8_params *p);

#endif /* LR_KERNELS_H */
