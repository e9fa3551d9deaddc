/*
 * lr_internal.h -- private declarations of the linrep-edge C runtime (not installed).
 *
 * Three layers, each trusting the one below it:
 *   1. byte helpers (little-endian reads, fp16 decoding, index unpacking): pure functions;
 *   2. the reader (lr_read.c): FlatBuffers accessors with NO bounds checks, valid only on a blob
 *      that lr_verify_structure accepted;
 *   3. the verifier (lr_verify.c), the planner (lr_plan.c), the cost model and path choice
 *      (lr_cost.c), the model queries (lr_model.c) and the run path (lr_run.c), which calls the op
 *      kernels (kernels/lr_kernels.h: one reference kernel per op per file in kernels/ref/).
 */
#ifndef LR_INTERNAL_H
#define LR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "linrep.h"
#include "lr_schema.h"

#define LR_MODEL_MAGIC 0x314C524Cu /* set in lr_model.magic by a successful lr_init */
#define LR_NO_OP 0xFFFFu           /* lr_plan_entry.first/last: no op */

/* Int8 models (format version 4) are supported unless the library is built with -DLR_INT8=0 (linrep.h).
 * LR_IS_INT8(m): m is an int8 model, constant 0 in such a build so that no int8 code is linked. */
#ifndef LR_INT8
#define LR_INT8 1
#endif
/* The converse (linrep.h): -DLR_FP32=0 leaves fp32 models out; LR_IS_INT8 is then constant 1, so no fp32
 * run path, fp32 kernel or fp32 cost-model code is linked. */
#ifndef LR_FP32
#define LR_FP32 1
#endif
#if !LR_FP32 && !LR_INT8
#error "LR_FP32=0 and LR_INT8=0 leave no model the library can run"
#endif
#define LR_IS_INT8(m) (LR_INT8 && (!LR_FP32 || (m)->tensor_quant != 0u))

/* Op selection (linrep.h, -DLR_OPS=<mask>): LR_OP_ON(t) is 1 when op type t is compiled in, a constant.
 * lr_init refuses the op types left out; every switch over op types leaves a case at once when none of its
 * types is compiled in (`if (!LR_OP_ON(...)) break;`), so that the compiler drops the rest of the case and
 * the link drops the kernels and verifier rules only it calls. */
#ifndef LR_OPS
#define LR_OPS ((1u << LR_OP_TYPE_COUNT) - 1u) /* every op type of the schema */
#endif
#define LR_OP_ON(t) (((LR_OPS) >> (t)) & 1u)
/* TFLite's int8 MEAN compiled in (linrep.h, -DLR_TFLITE_MEAN=0 leaves it out): a constant. */
#ifndef LR_TFLITE_MEAN
#define LR_TFLITE_MEAN 1
#endif
/* 1 when an op type that may carry LinRep fields (LINREP_CONV2D, CONV_TRANSPOSE2D) is compiled in: only then are
 * codebooks verified and read; a build without either refuses a blob that holds codebooks (usable in #if). */
#define LR_LINREP_ON (LR_OP_ON(LR_OP_TYPE_LINREP_CONV2D) || LR_OP_ON(LR_OP_TYPE_CONV_TRANSPOSE2D))
#if (LR_OPS) >> LR_OP_TYPE_COUNT
#error "LR_OPS: bits above the last op type are set (no such op type)"
#endif

/* LinRep conv paths compiled in (linrep.h, -DLR_LINREP_PATHS=<mask>): bit 0 the direct path, bit 1 template
 * reuse. With one of them left out, AUTO runs the other on every LinRep conv (the plan gives it its scratch
 * as if forced), lr_set_conv_path refuses the missing one, and its kernels are not linked. */
#ifndef LR_LINREP_PATHS
#define LR_LINREP_PATHS 3u
#endif
#if (LR_LINREP_PATHS) < 1 || (LR_LINREP_PATHS) > 3
#error "LR_LINREP_PATHS: 1 (direct only), 2 (template reuse only) or 3 (both, the default)"
#endif
#define LR_DIRECT_ON (((LR_LINREP_PATHS) & 1u) != 0u)
#define LR_REUSE_ON (((LR_LINREP_PATHS) & 2u) != 0u)

/* The optimised int8 kernels the run path calls (linrep.h, -DLR_OPT_KERNELS=<mask>; runtime.mk's LR_KERNELS writes
 * it): bit LR_OPT_CONV dense and depthwise CONV2D, dense CONV_TRANSPOSE2D and bilinear RESIZE, LR_OPT_LINEAR,
 * LR_OPT_ADD (elementwise ADD, by tables, and MUL), LR_OPT_LINREP both LinRep paths (and the cost model calibrated on
 * them) and LinRep CONV_TRANSPOSE2D, LR_OPT_ACT the activations, gates and
 * standalone batch norms by table (lr_table_s8_opt). A kind whose bit is clear runs its reference kernel
 * (kernels/ref/), and its optimised kernel is not linked. Default: every kind (0x1Fu); 0: the references only. */
#define LR_OPT_CONV 0u
#define LR_OPT_LINEAR 1u
#define LR_OPT_ADD 2u
#define LR_OPT_LINREP 3u
#define LR_OPT_ACT 4u
#ifndef LR_OPT_KERNELS
#define LR_OPT_KERNELS 0x1Fu
#endif
#if (LR_OPT_KERNELS) >> 5
#error "LR_OPT_KERNELS: bits above 4 are set (bit 0 conv, 1 linear, 2 add, 3 linrep, 4 act)"
#endif
#define LR_OPT_ON(k) ((((LR_OPT_KERNELS) >> (k)) & 1u) != 0u)

/* The runtime's own memory planner compiled in (linrep.h, -DLR_PLANNER=0: offline plans only, lr_set_plan). */
#ifndef LR_PLANNER
#define LR_PLANNER 1
#endif
#if (LR_PLANNER) != 0 && (LR_PLANNER) != 1
#error "LR_PLANNER: 0 (offline plans only) or 1 (the default)"
#endif

/* Status texts compiled in (linrep.h, -DLR_STATUS_TEXTS=0: lr_status_str returns ""). */
#ifndef LR_STATUS_TEXTS
#define LR_STATUS_TEXTS 1
#endif
#if (LR_STATUS_TEXTS) != 0 && (LR_STATUS_TEXTS) != 1
#error "LR_STATUS_TEXTS: 0 (codes only) or 1 (the default)"
#endif

/* Largest blob size accepted (FlatBuffers offsets are 32-bit; keep all sums below 2^31). */
#define LR_MAX_BLOB_BYTES 0x7FFFFFF0u
/* Largest tensor or constant element count: numel * 4 bytes, aligned, stays below 2^31. */
#define LR_MAX_NUMEL 0x1FFFFFF0u


/*
 * Helpers marked LR_HELPER are static inline, except in size-optimised builds (-Os defines
 * __OPTIMIZE_SIZE__), where GCC keeps them out of line anyway: there they are compiled once, in
 * lr_helpers.c, rather than once in every file that uses them (one op per file would otherwise
 * repeat them). The code is the same either way, and so are the results.
 */
#if defined(__OPTIMIZE_SIZE__) && !defined(LR_HELPERS_INLINE)
#define LR_HELPER
#ifdef LR_HELPERS_DEFINE
#define LR_HELPER_BODY 1 /* lr_helpers.c: the bodies */
#else
#define LR_HELPER_BODY 0 /* elsewhere: the declarations only */
#endif
#else
#define LR_HELPER static inline
#define LR_HELPER_BODY 1
#endif

/* ---------------------------------------------------------------------------------------------- */
/* 1. Byte helpers                                                                                */
/* ---------------------------------------------------------------------------------------------- */

static inline uint32_t lr_le16(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static inline uint32_t lr_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Two's-complement int32 from its bit pattern, without implementation-defined conversions. */
static inline int32_t lr_as_i32(uint32_t v)
{
    return v < 0x80000000u ? (int32_t)v : (int32_t)(v - 0x80000000u) - (int32_t)0x7FFFFFFF - 1;
}

static inline int32_t lr_lei32(const unsigned char *p)
{
    return lr_as_i32(lr_le32(p));
}

static inline float lr_lef32(const unsigned char *p)
{
    uint32_t u = lr_le32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/*
 * IEEE 754 binary16 bit pattern -> float, exactly (every binary16 value is a binary32 value):
 * zeros keep their sign, subnormals are normalised, inf stays inf, NaN stays NaN with its payload.
 */
LR_HELPER float lr_fp16_to_f32(uint32_t h);
#if LR_HELPER_BODY
LR_HELPER float lr_fp16_to_f32(uint32_t h)
{
    uint32_t sign = (h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t mant = h & 0x3FFu;
    uint32_t bits;
    float f;
    if (exp - 1u < 30u) { /* normal (the common case, one branch): rebias 15 -> 127 */
        bits = sign | (((h & 0x7FFFu) + 0x1C000u) << 13);
        memcpy(&f, &bits, sizeof f);
        return f;
    }
    if (exp == 0x1Fu) {
        bits = sign | 0x7F800000u | (mant << 13); /* inf or NaN */
    } else if (exp != 0u) {
        bits = sign | ((exp + 112u) << 23) | (mant << 13); /* normal: rebias 15 -> 127 */
    } else if (mant == 0u) {
        bits = sign; /* +-0 */
    } else {
        /* subnormal: mant * 2^-24; shift until the implicit bit (0x400) appears */
        uint32_t e = 113u; /* exponent of 2^-14 in binary32, less one per shift below */
        while ((mant & 0x400u) == 0u) {
            mant <<= 1;
            e--;
        }
        bits = sign | (e << 23) | ((mant & 0x3FFu) << 13);
    }
    memcpy(&f, &bits, sizeof f);
    return f;
}
#endif

/*
 * Index n of a packed little-endian bit stream of `width`-bit values (1..16): stream bits
 * [n*width, (n+1)*width), bit 0 lowest; stream bit j is bit j%8 of byte j/8 (see bitpack.py).
 * Reads only the 1..3 bytes that hold the value, so never past ceil(count*width/8) bytes.
 * Example, width 3, values [5, 1, 7]: bytes 0xCD 0x01.
 */
LR_HELPER uint32_t lr_unpack_index(const unsigned char *bytes, uint32_t n, uint32_t width);
#if LR_HELPER_BODY
LR_HELPER uint32_t lr_unpack_index(const unsigned char *bytes, uint32_t n, uint32_t width)
{
    uint32_t bit = n * width;
    uint32_t q = bit >> 3;
    uint32_t sh = bit & 7u;
    uint32_t nbytes = (sh + width + 7u) >> 3;
    uint32_t v = bytes[q];
    if (nbytes > 1u) {
        v |= (uint32_t)bytes[q + 1u] << 8;
    }
    if (nbytes > 2u) {
        v |= (uint32_t)bytes[q + 2u] << 16;
    }
    return (v >> sh) & ((1u << width) - 1u);
}
#endif

/* Value n of a stream of `width`-bit two's-complement integers (same bit layout as the indices). */
LR_HELPER int32_t lr_unpack_signed(const unsigned char *bytes, uint32_t n, uint32_t width);
#if LR_HELPER_BODY
LR_HELPER int32_t lr_unpack_signed(const unsigned char *bytes, uint32_t n, uint32_t width)
{
    uint32_t u = lr_unpack_index(bytes, n, width);
    return (u >> (width - 1u)) != 0u ? (int32_t)u - (int32_t)(1u << width) : (int32_t)u;
}
#endif

/* A run of stored values in the blob (read in place). p == NULL: absent. */
typedef struct lr_values {
    const unsigned char *p;
    uint32_t f16; /* 1: binary16 bit patterns (2 bytes each); 0: fp32 (4 bytes each) or int8 */
    uint32_t i8;  /* 1: int8 (1 byte each), the raw integer; the caller applies its scale */
} lr_values;

LR_HELPER float lr_value(lr_values v, uint32_t i);
#if LR_HELPER_BODY
LR_HELPER float lr_value(lr_values v, uint32_t i)
{
    if (v.i8) {
        return (float)(int32_t)(v.p[i] < 0x80u ? (int32_t)v.p[i] : (int32_t)v.p[i] - 256);
    }
    return v.f16 ? lr_fp16_to_f32(lr_le16(v.p + 2u * i)) : lr_lef32(v.p + 4u * i);
}
#endif

/* The int8 value of a stored byte (two's complement), without implementation-defined conversions. */
static inline int32_t lr_s8(unsigned char v)
{
    return v < 0x80u ? (int32_t)v : (int32_t)v - 256;
}

/* ---- TFLite's fixed-point arithmetic (docs/INTEGER.md section 1), integers only ------------------- */

/* SRDHM: round half away from zero of a * b / 2^31; a = b = INT32_MIN gives INT32_MAX. */
LR_HELPER int32_t lr_srdhm(int32_t a, int32_t b);
#if LR_HELPER_BODY
LR_HELPER int32_t lr_srdhm(int32_t a, int32_t b)
{
    int64_t ab, num;
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    num = ab + (ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30)));
    /* C's truncating division by 2^31, written with unsigned shifts (no implementation-defined >>) */
    return num >= 0 ? (int32_t)((uint64_t)num >> 31) : -(int32_t)((uint64_t)(-num) >> 31);
}
#endif

/* RDBPOT: x / 2^e rounded half away from zero (gemmlowp's RoundingDivideByPOT), 0 <= e <= 31. The
 * floor shift is written portably: ~(~x >> e) = floor(x / 2^e) for negative x. */
LR_HELPER int32_t lr_rdbpot(int32_t x, int32_t e);
#if LR_HELPER_BODY
LR_HELPER int32_t lr_rdbpot(int32_t x, int32_t e)
{
    const uint32_t mask = (uint32_t)(((uint64_t)1 << e) - 1u);
    const int32_t rem = (int32_t)((uint32_t)x & mask);
    const int32_t thr = (int32_t)(mask >> 1) + (x < 0 ? 1 : 0);
    const int32_t fl = x >= 0 ? x >> e : ~(~x >> e);
    return fl + (rem > thr ? 1 : 0);
}
#endif

/* MBQM: TFLite's MultiplyByQuantizedMultiplier; x * 2^max(s, 0) must fit int32 (the verifier's bound). */
LR_HELPER int32_t lr_mbqm(int32_t x, int32_t mult, int32_t shift);
#if LR_HELPER_BODY
LR_HELPER int32_t lr_mbqm(int32_t x, int32_t mult, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
    return lr_rdbpot(lr_srdhm((int32_t)((int64_t)x * ((int64_t)1 << left)), mult), right);
}
#endif

/* requant: clamp(MBQM(acc, M, s) + zp, lo, hi) as an int8. */
LR_HELPER int8_t lr_requant(int32_t acc, int32_t mult, int32_t shift, int32_t zp, int32_t lo, int32_t hi);
#if LR_HELPER_BODY
LR_HELPER int8_t lr_requant(int32_t acc, int32_t mult, int32_t shift, int32_t zp, int32_t lo, int32_t hi)
{
    int32_t v = lr_mbqm(acc, mult, shift) + zp;
    v = v < lo ? lo : v > hi ? hi : v;
    return (int8_t)v;
}
#endif

/* CRC-32 (IEEE 802.3, zlib.crc32): crc = lr_crc32_update(0, data, n) for a whole buffer. */
uint32_t lr_crc32_update(uint32_t crc, const unsigned char *data, size_t n);

/* ---------------------------------------------------------------------------------------------- */
/* 2. Reader: FlatBuffers accessors. NO checks: only for blobs lr_verify_structure accepted.     */
/* Positions are byte offsets from the blob start; 0 means "absent" (no field can sit at 0).     */
/* ---------------------------------------------------------------------------------------------- */

/* Absolute position of field `slot` of the table at `t`, or 0 if the field is absent. */
LR_HELPER uint32_t lr_field(const unsigned char *b, uint32_t t, uint32_t slot);
#if LR_HELPER_BODY
LR_HELPER uint32_t lr_field(const unsigned char *b, uint32_t t, uint32_t slot)
{
    uint32_t vt = t - lr_le32(b + t); /* soffset: vtable = table - soffset (mod 2^32) */
    uint32_t entry = 4u + 2u * slot;
    uint32_t fo;
    if (entry + 2u > lr_le16(b + vt)) {
        return 0u;
    }
    fo = lr_le16(b + vt + entry);
    return fo == 0u ? 0u : t + fo;
}
#endif

static inline int32_t lr_get_i32(const unsigned char *b, uint32_t t, uint32_t slot, int32_t def)
{
    uint32_t p = lr_field(b, t, slot);
    return p ? lr_lei32(b + p) : def;
}

static inline uint32_t lr_get_u32(const unsigned char *b, uint32_t t, uint32_t slot, uint32_t def)
{
    uint32_t p = lr_field(b, t, slot);
    return p ? lr_le32(b + p) : def;
}

static inline int32_t lr_get_i16(const unsigned char *b, uint32_t t, uint32_t slot, int32_t def)
{
    uint32_t p = lr_field(b, t, slot);
    uint32_t u = p ? lr_le16(b + p) : 0u;
    return p ? (u < 0x8000u ? (int32_t)u : (int32_t)u - 0x10000) : def;
}

static inline uint32_t lr_get_u8(const unsigned char *b, uint32_t t, uint32_t slot, uint32_t def)
{
    uint32_t p = lr_field(b, t, slot);
    return p ? (uint32_t)b[p] : def;
}

static inline float lr_get_f32(const unsigned char *b, uint32_t t, uint32_t slot, float def)
{
    uint32_t p = lr_field(b, t, slot);
    return p ? lr_lef32(b + p) : def;
}

/* Target of an offset field (table, vector or string), or 0 if absent. */
static inline uint32_t lr_get_ref(const unsigned char *b, uint32_t t, uint32_t slot)
{
    uint32_t p = lr_field(b, t, slot);
    return p ? p + lr_le32(b + p) : 0u;
}

/* Vector field: position of its first element (0 if absent) and its length in *n (0 if absent). */
LR_HELPER uint32_t lr_get_vec(const unsigned char *b, uint32_t t, uint32_t slot, uint32_t *n);
#if LR_HELPER_BODY
LR_HELPER uint32_t lr_get_vec(const unsigned char *b, uint32_t t, uint32_t slot, uint32_t *n)
{
    uint32_t v = lr_get_ref(b, t, slot);
    if (v == 0u) {
        *n = 0u;
        return 0u;
    }
    *n = lr_le32(b + v);
    return v + 4u;
}
#endif

/* Element i of a vector of tables whose elements start at `elems`: the table's position. */
static inline uint32_t lr_vec_table(const unsigned char *b, uint32_t elems, uint32_t i)
{
    uint32_t p = elems + 4u * i;
    return p + lr_le32(b + p);
}

/* One op, decoded from its table (absent fields take the schema defaults). */
typedef struct lr_op {
    uint32_t index;    /* position in execution order; the op writes tensor index + 1 */
    uint32_t type;
    uint32_t name;     /* string position, 0 if absent */
    uint32_t inputs;   /* position of the first int32 tensor id; 0: implicit [index] */
    uint32_t n_inputs;
    int32_t output;    /* index + 1 */
    uint32_t activation; /* fused Activation, applied to the result */
    int32_t kh, kw, sh, sw, pt, pl, pb, pr, dh, dw;
    int32_t groups;
    int32_t out_ch;    /* first dimension of the output tensor (conv and linear output channels) */
    uint32_t count_include_pad;
    float alpha;       /* LEAKY_RELU slope; CLAMP lower bound; PAD value */
    float beta;        /* CLAMP upper bound */
    uint32_t mode;     /* RESIZE: 0 nearest, 1 bilinear, 2 bilinear with align_corners */
    int32_t start;     /* SLICE: first channel (or feature) taken */
    uint32_t dtype;    /* storage of weight and bias */
    uint32_t w32, n_w32, w16, n_w16; /* weight vectors: element positions and lengths */
    uint32_t b32, n_b32, b16, n_b16; /* bias vectors */
    uint32_t w8, n_w8, ws, n_ws;     /* dtype I8: int8 weights and their per-output-channel fp32 scales */
    uint32_t linrep;   /* the op's table position if it has LinRep fields (indices or ab), else 0 */
    /* Format version 4 (int8 models): element positions (0: absent) and lengths */
    uint32_t bi32, n_bi32;   /* int32 bias */
    uint32_t mult, n_mult;   /* int32 Q31 multipliers */
    uint32_t shift, n_shift; /* int8 shifts */
    uint32_t bexp, n_bexp;   /* int8 LinRep b exponents */
    uint32_t qp, n_qp;       /* int32 op-specific integers */
    int32_t act_min, act_max;
    uint32_t v4;             /* 1 if any version-4 field is present in the op's table */
} lr_op;

/* A codebook: K templates of kh x kw values, template-major. */
typedef struct lr_codebook {
    int32_t kh, kw, k;
    uint32_t dtype;
    uint32_t f32, n_f32;
    uint32_t f16, n_f16;
    uint32_t i8, n_i8; /* format version 4: int8 templates t_q */
    uint32_t v4;       /* 1 if the i8 or scale field is present */
} lr_codebook;

/* The LinRep weights of one op. */
typedef struct lr_linrep {
    int32_t codebook;
    uint32_t bits;
    uint32_t idx, n_idx; /* packed index bytes */
    uint32_t ab, n_ab;   /* fp16 bit patterns, interleaved a0 b0 a1 b1 ... (ab_bits == 0) */
    uint32_t ab_bits;    /* 0: fp16 `ab`; 2..8: signed integers in `abq`, scaled per output channel */
    uint32_t abq, n_abq; /* packed a_q b_q pairs */
    uint32_t as, n_as;   /* fp32 a scales, one per output channel */
    uint32_t bs, n_bs;   /* fp32 b scales */
    uint32_t mask, n_mask; /* kernel mask bytes (0: every kernel kept); then idx and a/b: kept kernels only */
} lr_linrep;

/* Whether kernel n is kept under a kernel mask (mask == NULL: all kept). */
static inline int lr_kept(const unsigned char *mask, uint32_t n)
{
    return mask == NULL || (((uint32_t)mask[n >> 3] >> (n & 7u)) & 1u) != 0u;
}

/* a and b of kernel n (output channel o) of a verified LinRep op. */
LR_HELPER void lr_linrep_ab(const unsigned char *blob, const lr_linrep *lr, uint32_t n, uint32_t o, float *a,
                                float *b);
#if LR_HELPER_BODY
LR_HELPER void lr_linrep_ab(const unsigned char *blob, const lr_linrep *lr, uint32_t n, uint32_t o, float *a,
                                float *b)
{
    if (lr->ab_bits == 0u) {
        *a = lr_fp16_to_f32(lr_le16(blob + lr->ab + 4u * n));
        *b = lr_fp16_to_f32(lr_le16(blob + lr->ab + 4u * n + 2u));
    } else {
        *a = (float)lr_unpack_signed(blob + lr->abq, 2u * n, lr->ab_bits) * lr_lef32(blob + lr->as + 4u * o);
        *b = (float)lr_unpack_signed(blob + lr->abq, 2u * n + 1u, lr->ab_bits) * lr_lef32(blob + lr->bs + 4u * o);
    }
}
#endif

/* The model's results (Model.outputs, format version 3; absent: the one Model.output). */
static inline uint32_t lr_output_count_of(const lr_model *m)
{
    return m->outputs != 0u ? m->n_outputs : 1u;
}

static inline int32_t lr_output_id(const lr_model *m, uint32_t i)
{
    return m->outputs != 0u ? lr_lei32(m->blob + m->outputs + 4u * i) : m->output;
}

int32_t lr_op_input(const lr_model *m, const lr_op *op, uint32_t i);
void lr_read_op(const lr_model *m, uint32_t k, lr_op *op);
/* Shape of tensor `id`: returns its rank (1 for [F], 3 for [C, H, W]), copies the dims. */
uint32_t lr_tensor_shape(const lr_model *m, uint32_t id, int32_t dims[LR_MAX_RANK]);
/* Element count of tensor `id` of a verified model. */
uint32_t lr_tensor_numel(const lr_model *m, uint32_t id);
/* A verified MUL by a gate of one value per pixel (format version 8: CBAM's spatial attention): its second
 * input [1, H, W] of a [C, H, W] first input with C > 1, the same gate for every channel. (The other forms, the
 * same shape or one value per channel, have as many channels as the first input, or are flat.) */
static inline int lr_mul_per_pixel(const lr_model *m, const lr_op *op)
{
    int32_t a[LR_MAX_RANK], b[LR_MAX_RANK];
    (void)lr_tensor_shape(m, (uint32_t)lr_op_input(m, op, 0u), a);
    return lr_tensor_shape(m, (uint32_t)lr_op_input(m, op, 1u), b) == 3u && b[0] == 1 && a[0] > 1;
}
void lr_read_codebook(const lr_model *m, uint32_t id, lr_codebook *cb);
/* The LinRep fields of an op table (lr_op.linrep). */
void lr_read_linrep(const lr_model *m, uint32_t table, lr_linrep *lr);
/* Weight / bias values of a verified op, in place (p == NULL: absent). */
lr_values lr_op_weight(const lr_model *m, const lr_op *op);
lr_values lr_op_bias(const lr_model *m, const lr_op *op);
lr_values lr_codebook_values(const lr_model *m, const lr_codebook *cb);

/* ---------------------------------------------------------------------------------------------- */
/* 3. Verifier, planner, kernels                                                                  */
/* ---------------------------------------------------------------------------------------------- */

/* Where verification failed (copied into lr_model.fail_op / fail_tensor). */
typedef struct lr_where {
    int32_t op;
    int32_t tensor;
} lr_where;

/* Structure of the Model table only: root offset, vtable, inline fields. Cheap. */
lr_status lr_verify_root(const unsigned char *b, uint32_t size, uint32_t *root);
/* Every table, vector and string reachable from the Model table. */
lr_status lr_verify_structure(const unsigned char *b, uint32_t size, uint32_t root);
/* Tensors, constants, codebooks, ops: values, shapes, parameters (structure already verified). */
lr_status lr_verify_semantics(const lr_model *m, uint32_t *scratch_floats, lr_where *where);

/*
 * Int8 models (format version 4, lr_verify_i8.c). lr_verify_quant_i8: Model.tensor_quant has one entry
 * per tensor, each scale positive and finite, each zero point in -128 .. 127 (LR_ERR_BAD_TENSOR).
 * lr_verify_op_i8: the int8 rules of one op that check_op accepted (docs/INTEGER.md; linrep.h lr_init);
 * raises *scratch_words to the int32 scratch of the op's direct path.
 */
lr_status lr_verify_quant_i8(const lr_model *m, lr_where *where);
lr_status lr_verify_op_i8(const lr_model *m, const lr_op *op, lr_where *where, uint32_t *scratch_words);
/* Scale bit pattern and zero point of tensor `id` of an int8 model. */
static inline uint32_t lr_quant_scale_bits(const lr_model *m, uint32_t id)
{
    return lr_le32(m->blob + m->tensor_quant + LR_TENSOR_QUANT_SIZE * id + LR_TENSOR_QUANT_SCALE_OFFSET);
}
static inline int32_t lr_quant_zp(const lr_model *m, uint32_t id)
{
    return lr_lei32(m->blob + m->tensor_quant + LR_TENSOR_QUANT_SIZE * id + LR_TENSOR_QUANT_ZERO_POINT_OFFSET);
}

/* One planning record per tensor (16 bytes). */
typedef struct lr_plan_entry {
    uint32_t offset; /* bytes from the start of the activation region */
    uint32_t size;   /* bytes, multiple of LR_ARENA_ALIGN; 0: tensor never used */
    uint16_t first;  /* op that writes it (0 for the model input), LR_NO_OP if unused */
    uint16_t last;   /* last op that reads it (the model's outputs: the last op) */
    uint16_t next;   /* planner's list of placed buffers, sorted by offset; LR_PLAN_ALIAS: the buffer's tensor */
    uint16_t placed;
} lr_plan_entry;

/* The op types whose int8 kernels write their output in place over their input, those of this build (LR_OPS), as
 * bits by type: every activation (an output byte a function of the input byte at its position, and its channel's,
 * read before it is written; their references run in place on the table's ramp, lr_run.c). */
#define LR_IN_PLACE_OPS \
    ((LR_OPS) & ((1u << LR_OP_TYPE_RELU) | (1u << LR_OP_TYPE_RELU6) | (1u << LR_OP_TYPE_LEAKY_RELU) | \
                 (1u << LR_OP_TYPE_PRELU) | (1u << LR_OP_TYPE_SIGMOID) | (1u << LR_OP_TYPE_HARDSWISH) | \
                 (1u << LR_OP_TYPE_TANH) | (1u << LR_OP_TYPE_HARDSIGMOID) | (1u << LR_OP_TYPE_SILU) | \
                 (1u << LR_OP_TYPE_CLAMP) | (1u << LR_OP_TYPE_UNARY)))
/* The bytes of an int8 UNARY op's table (format version 7): one output per input byte. */
#define LR_UNARY_TABLE_BYTES 256u
/* lr_plan_entry.placed: the tensor is written in place over another's buffer (lr_plan_lifetimes: an int8
 * activation whose input dies there), size 0, next the tensor whose buffer it shares (itself no alias), which
 * lives on to this one's last reader. */
#define LR_PLAN_ALIAS 4u

/*
 * The plan (lr_plan.c): lifetimes (checking the graph: ids in range, written once and before being read,
 * input never written), the greedy tensor plan, then each op's scratch under the path in force and the RAM
 * limit. lr_plan_sizes: on records of its own (on the stack, 16 bytes per tensor in a frame of 16, 64 or
 * LR_MAX_TENSORS records), after verification: *act_bytes the tensors' top, *region_bytes the activation
 * region (tensors and scratch; at least the records), *lower_bound (if not NULL) the activation lower bound
 * (see lr_activation_lower_bound). lr_plan_op: op k's path (*reuse) and scratch bytes in that plan.
 */
lr_status lr_plan_sizes(const lr_model *m, uint32_t *act_bytes, uint32_t *region_bytes, uint32_t *lower_bound,
                        lr_where *where);

/*
 * What both the planner and the offline plan's check stand on (lr_plan_check.c). lr_plan_lifetimes: each
 * tensor's first and last op and aligned size (0: unused) into e, checking the graph (every input written
 * before it is read, every tensor written once, the model input never, every output written); in int8 models
 * an activation's output whose input dies at it shares the input's buffer (LR_PLAN_ALIAS).
 * lr_plan_lower_bound: the most bytes live at once (lr_activation_lower_bound). lr_with_records: fn on
 * records of its own for every tensor, on the stack in a frame of 16, 64 or LR_MAX_TENSORS records.
 * lr_plan_graph: lr_init of a build without the planner (LR_PLANNER=0): the lifetimes' checks and the
 * lower bound. lr_plan_check: an offline plan (linrep.h's layout) against the model (lr_set_plan's rules).
 */
lr_status lr_plan_lifetimes(const lr_model *m, lr_plan_entry *e, lr_where *where);
lr_status lr_plan_lower_bound(const lr_model *m, const lr_plan_entry *e, uint32_t *bytes);
typedef lr_status (*lr_records_fn)(const lr_model *m, lr_plan_entry *e, void *ctx);
lr_status lr_with_records(const lr_model *m, lr_records_fn fn, void *ctx);
lr_status lr_plan_graph(const lr_model *m, uint32_t *lower_bound, lr_where *where);
lr_status lr_plan_check(const lr_model *m, const uint32_t *plan, size_t plan_words);
/* The offline plan's length for m (linrep.h: LR_PLAN_HEAD + tensors + 2 ops + the bit words). */
uint32_t lr_plan_words_of(const lr_model *m);
lr_status lr_plan_op(const lr_model *m, uint32_t k, int *reuse, uint32_t *scratch_bytes);

/* Output index range of one kernel tap along an axis (shared by the conv paths): the first output
 * index o >= 0 with o*s + off >= 0, and one past the last o < out with o*s + off <= in - 1. */
static inline int32_t lr_range_lo(int32_t off, int32_t s)
{
    return off >= 0 ? 0 : (-off + s - 1) / s;
}

static inline int32_t lr_range_hi(int32_t off, int32_t s, int32_t in, int32_t out)
{
    int32_t hi;
    if (in - 1 - off < 0) {
        return 0;
    }
    hi = (in - 1 - off) / s + 1;
    return hi < out ? hi : out;
}

/*
 * The plan lr_run uses, kept at the arena head (lr_model.plan_bytes) as 32-bit words: [stamp][key][check]
 * [offset of each tensor][per op: scratch offset, scratch bytes][per-op reuse bits], where key identifies the
 * model (blob address, size and CRC-32, path in force, RAM limit, plan sizes) and check is a checksum of the
 * rest. lr_run_plan_words: that many words. lr_run_plan_valid: the head holds a plan for `m` (O(tensors +
 * ops)). lr_run_plan_build: plan (records in the activation region, which follows the head) and write it;
 * LR_ERR_NOT_INITIALIZED if the blob no longer gives the plan of lr_init.
 */
#define LR_RUN_PLAN_HEAD 3u /* words before the offsets */
/* The 16-byte aligned start of `arena` (lr_run.c), or NULL if it cannot hold what `m` needs. */
uint32_t *lr_arena_head(const lr_model *m, void *arena, size_t arena_bytes);
uint32_t lr_run_plan_words(const lr_model *m);
int lr_run_plan_valid(const lr_model *m, const uint32_t *words);
lr_status lr_run_plan_build(const lr_model *m, uint32_t *words);

/*
 * Conv paths (lr_cost.c). lr_conv_cost_of: the cost model of a conv op (path: the AUTO choice for
 * LinRep convs). lr_op_prefers_reuse: whether op takes the template-reuse kernel under `path` (LR_PATH_*;
 * AUTO: the cost model; the plan may still run it on the direct path under the RAM limit: lr_plan_op says
 * which). lr_op_scratch: the scratch bytes op needs under `path`, `reuse` what lr_op_prefers_reuse said
 * (see lr_scratch_need); no cost model, a shallow call (the plan calls it with its records on the stack).
 */
void lr_conv_cost_of(const lr_model *m, const lr_op *op, lr_conv_cost *cost);
int lr_op_prefers_reuse(const lr_model *m, const lr_op *op, uint32_t path);
/* lr_op_can_reuse: op is a LinRep conv the template-reuse kernel can run in this build (not fp32 with pruned
 * kernels; LR_LINREP_PATHS has it); no cost model. */
int lr_op_can_reuse(const lr_model *m, const lr_op *op);
typedef struct lr_scratch_need {
    uint64_t reuse;  /* the reuse kernel's preferred bytes if the op takes that path under `path` (AUTO: the
                        cost model prefers it), else 0 */
    uint64_t reuse_lo; /* its least bytes (the optimised int8 kernel: one output row per tile; else = reuse) */
    int must_reuse;  /* path is LR_PATH_REUSE: no fallback */
    uint64_t lo, hi; /* the direct / dense kernels' least and preferred bytes (0: no scratch) */
} lr_scratch_need;
void lr_op_scratch(const lr_model *m, const lr_op *op, uint32_t path, int reuse, lr_scratch_need *need);
/* Whether op of an int8 model maps each value by a function of its byte alone, compiled in (LR_OPS), with
 * LR_OPT_ACT: an elementwise activation (SIGMOID, TANH, HARDSWISH, HARDSIGMOID, SILU, LEAKY_RELU, RELU, RELU6,
 * CLAMP; PRELU with one slope) on at least LR_ACT_S8_TAB_MIN values, or one function per channel (PRELU with a
 * slope per channel, MUL by a gate of one value per channel, AFFINE) on at least LR_ACT_S8_TAB_MIN values per
 * channel: it takes LR_ACT_S8_TAB_BYTES of scratch for a table (a table per channel in turn) where the plan gives
 * them (lr_table_s8_opt). */
int lr_op_act_table(const lr_model *m, const lr_op *op);
/* The same as a constant: some activation of this build (LR_OPS, LR_OPT_KERNELS) can take the table. */
#define LR_ACT_TABLE_ON \
    (LR_INT8 && LR_OPT_ON(LR_OPT_ACT) && \
     (LR_OP_ON(LR_OP_TYPE_SIGMOID) || LR_OP_ON(LR_OP_TYPE_TANH) || LR_OP_ON(LR_OP_TYPE_HARDSWISH) || \
      LR_OP_ON(LR_OP_TYPE_HARDSIGMOID) || LR_OP_ON(LR_OP_TYPE_SILU) || LR_OP_ON(LR_OP_TYPE_LEAKY_RELU) || \
      LR_OP_ON(LR_OP_TYPE_RELU) || LR_OP_ON(LR_OP_TYPE_RELU6) || LR_OP_ON(LR_OP_TYPE_CLAMP) || \
      LR_OP_ON(LR_OP_TYPE_PRELU) || LR_OP_ON(LR_OP_TYPE_MUL) || LR_OP_ON(LR_OP_TYPE_AFFINE)))

#endif /* LR_INTERNAL_H */
