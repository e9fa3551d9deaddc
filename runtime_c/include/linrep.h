/*
 * linrep.h -- the linrep-edge C runtime: run a .lre network read in place.
 *
 * This is the runtime's only public header. C99; needs <stddef.h> and <stdint.h> only.
 *
 * A .lre blob (FlatBuffers, schema linrep_edge/schema/lre.fbs) holds a whole CNN: tensor shapes, ops
 * in execution order, dense constants (fp32, fp16, or int8 with per-output-channel scales for conv and
 * linear weights) and LinRep convolutions whose kernels are w = a * T[idx] + b (T a template from a
 * codebook, idx a packed index, a and b fp16 or 2..8-bit integers with per-output-channel scales).
 *
 * Life cycle:
 *
 *     lr_model m;
 *     if (lr_init(&m, blob, blob_len) != LR_OK) ...       verifies everything, once
 *     lr_arena_size(&m, &n);                                caller provides n bytes (16-byte aligned)
 *     lr_arena_prepare(&m, arena, n);                       optional: plan the arena now, not in
 *                                                           the first lr_run
 *     lr_run(&m, arena, n, input, in_len, output, out_len); as often as wanted
 *
 * Guarantees:
 * - Verify once, then read. lr_init checks every offset, length and value of the blob it will ever
 *   use (structure, CRC-32, shapes, parameters, every packed index). After it succeeds, the run path
 *   reads the blob without further checks. A truncated, corrupted or hostile blob makes lr_init
 *   return an error; it never makes the runtime read outside [blob, blob + size).
 * - Zero copy. The blob is read in place (it may live in flash) and must stay valid and unchanged
 *   while the model is used. Nothing of it is copied to RAM except activations and a scratch of
 *   one output channel's reconstructed kernels (plus, for a LinRep layer, its K templates decoded
 *   to fp32 once per layer: K * kh * kw floats, 576 bytes at K = 16 for 3x3 kernels); on the
 *   template-reuse path, the templates and one tile of responses and box-sums instead.
 * - No allocation, no global mutable state, no I/O. All RAM is the caller's: the lr_model struct,
 *   the arena and the input/output buffers. Every function is reentrant; one lr_model may be used
 *   by several threads at once if each lr_run call has its own arena and output buffer.
 * - Arithmetic is fp32 throughout for fp32 models (int8 models, format version 4: integers only, see
 *   lr_run_i8); kernels are rebuilt as `a * t + b` (multiply, then add: build
 *   with -ffp-contract=off so that compilers do not fuse it). The same summation order is used
 *   for LinRep and dense weights, so identical weights give bit-identical results.
 *
 * Byte order of the blob is little-endian (FlatBuffers); it is read through byte helpers, so the
 * runtime works on either host byte order and on any blob alignment.
 */
#ifndef LINREP_H
#define LINREP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Format versions this runtime reads: 1 .. LR_FORMAT_VERSION (2 adds integer a/b and int8 weights; 3 adds
 * TANH, HARDSIGMOID, SILU, CLAMP, MUL, RESIZE, PAD, SLICE, TRANSPOSE_HWC, AFFINE, CONV_TRANSPOSE2D (dense,
 * or LinRep weights over its (Cin, Cout/groups) kernel grid), ADD
 * and MUL broadcast over channels, SOFTMAX over channels, and several model outputs; 4 adds int8 models:
 * int8 activations with a scale and zero point per tensor and integer-only ops, docs/INTEGER.md; 5: int8
 * models whose integer LinRep layers store no fp32 a/b scales, as their multipliers hold them; 6 adds
 * CHANNEL_SHUFFLE and PAD's reflect / replicate borders; 7 adds UNARY: GELU, ELU / SELU, CELU, Softplus, Mish,
 * LogSigmoid and threshold, an int8 model's as a 256-byte table, and SUB; 8 adds MUL by a gate of one value per
 * pixel, [1, H, W] times [C, H, W], and PIXEL_SHUFFLE: depth to space and space to depth; 9 adds an int8
 * model's TFLite MEAN to an output other than 1x1: the mean over the channels of each pixel). */
#define LR_FORMAT_VERSION 9u

/* Largest tensor rank (activations are [C, H, W] or [F]; constants up to [Cout, Cin/g, kh, kw]). */
#define LR_MAX_RANK 4

/* Alignment of the arena and of every buffer planned inside it, in bytes. */
#define LR_ARENA_ALIGN 16u

/*
 * Tile budget of the template-reuse convolution, in floats: its per-tile buffers (one template's
 * responses, the box-sums and the box-sum rows of a tile of output rows) take at most this many
 * floats when a one-row tile fits (otherwise one output row per tile). Build-time option
 * (-DLR_REUSE_TILE_FLOATS=4096); larger tiles recompute fewer halo rows of box-sums.
 */
#ifndef LR_REUSE_TILE_FLOATS
#define LR_REUSE_TILE_FLOATS 1024u
#endif

/*
 * Limits. lr_init (and lr_set_conv_path, lr_set_ram_limit, lr_op_conv_info) plan with one 16-byte record per
 * tensor on the stack, in a frame sized for the model: 16 records for models of up to 16 tensors, 64 up to 64,
 * else LR_MAX_TENSORS (so they need at most 16 * LR_MAX_TENSORS + about 1 KB of stack, and small models much
 * less: see lr_init); plus LR_MAX_TENSORS / 8 bytes of path bits. Blobs with more tensors or ops are refused
 * with LR_ERR_TOO_MANY. Both can be raised when the library is built (-DLR_MAX_TENSORS=512); neither
 * changes lr_model or any other public type, so code built against this header works with a library
 * built with other limits. LR_MAX_TENSORS and LR_MAX_OPS may not exceed 65000 (planning records
 * hold 16-bit tensor and op indices).
 */
#ifndef LR_MAX_TENSORS
#define LR_MAX_TENSORS 128u
#endif
#ifndef LR_MAX_OPS
#define LR_MAX_OPS 65000u
#endif

/*
 * Build option: -DLR_INT8=0 leaves int8 models (format version 4) out of the library (lr_init refuses them
 * with LR_ERR_UNSUPPORTED_OP, lr_run_i8 returns it), so a firmware that only runs fp32 models links none
 * of the integer kernels (about 7.5 KB at -Os on Cortex-M4). A firmware that calls only lr_run_i8 never
 * links the fp32 kernels, whatever the option. Default: 1 (both).
 *
 * Build option: -DLR_FP32=0, the converse: an integer-only library. lr_init refuses fp32 models (format
 * versions 1-3, and version 4 without tensor quantisation) with LR_ERR_UNSUPPORTED_OP; int8 models run with
 * lr_run_i8 (and lr_run / lr_run_hooked, which quantise the float input and dequantise the outputs), and
 * none of the fp32 kernels, the fp32 run path or the fp32 template-reuse planning is linked.
 * Default: 1. LR_FP32=0 with LR_INT8=0 is an error.
 *
 * Build option: -DLR_OPS=<mask>, the op types compiled in (as TFLite Micro's op resolver, decided at build
 * time): bit t set = op type t of the format (OpType in docs/FORMAT.md; CONV2D = bit 0, LINREP_CONV2D = bit 1,
 * ... CONV_TRANSPOSE2D = bit 26, CHANNEL_SHUFFLE = bit 27, UNARY = bit 28, SUB = bit 29, PIXEL_SHUFFLE = bit 30).
 * lr_init refuses a blob holding any other op type with LR_ERR_UNSUPPORTED_OP (lr_error_location gives the op),
 * and the verifier rules, run paths and kernels of the ops left out are not compiled. With neither LINREP_CONV2D nor CONV_TRANSPOSE2D (the
 * op types that may carry LinRep fields) compiled in, codebooks are neither verified nor read: a blob holding any is
 * refused with LR_ERR_UNSUPPORTED_OP after its ops passed (lr_error_location: op -1), about 1.1 KB less code at -Os
 * on Cortex-M4 for an imported TFLite model. A plain integer literal (e.g. 0x1807u), so that the preprocessor can
 * read it. `linrep-edge export-project` writes the mask of its blob's ops (`linrep-edge info --json`:
 * "lr_ops"); `mcu-bench` measures code size with it. Default: every op type (0x7FFFFFFFu).
 *
 * Build option: -DLR_LINREP_PATHS=<mask>, the LINREP_CONV2D paths compiled in (lr_conv_path): 1u the direct
 * path only, 2u template reuse only, 3u both (the default). With one left out, LR_PATH_AUTO runs the other on
 * every LinRep conv (given its scratch whatever the RAM limit: the arena may grow, lr_arena_size says), its
 * kernels and the cost model's choice between the two are not linked (about 6 KB at -Os on Cortex-M4 for the
 * default model, reuse only), and lr_set_conv_path refuses the missing path with LR_ERR_UNSUPPORTED_OP. An fp32
 * model with pruned kernels runs the direct path only: a build without it refuses such a model in lr_init
 * (LR_ERR_UNSUPPORTED_OP, at the op). `mcu-bench --json` says which path each core's plan takes
 * ("blob_linrep_paths") and measures the firmware built with it; `export-project --linrep-path` writes it.
 *
 * Build option: -DLR_OPT_KERNELS=<mask>, the int8 op kinds that run their optimised kernels (src/kernels/opt/):
 * bit 0 CONV2D (dense, grouped, depthwise), a dense CONV_TRANSPOSE2D and bilinear RESIZE, bit 1 LINEAR, bit 2
 * elementwise ADD and MUL, bit 3 both LINREP_CONV2D paths (and the cost model calibrated on them) and a LinRep
 * CONV_TRANSPOSE2D, bit 4 the elementwise activations (SIGMOID, TANH,
 * HARDSWISH, HARDSIGMOID, SILU, LEAKY_RELU, a standalone RELU / RELU6 / CLAMP, PRELU) and the per-channel maps (MUL
 * by a gate of one value per channel, AFFINE) by a 256-byte table of the reference's outputs in the op's scratch
 * (one per channel in turn where the function differs per channel); the other kinds run their reference kernels,
 * and the optimised kernels they leave out are not linked. Outputs are the same bytes either way (every int8 kernel is exact); code size
 * and instructions differ, and so may the plan's scratch. A plain integer literal; runtime_c/runtime.mk writes it
 * from LR_KERNELS (opt: every kind, the default, no define; ref: 0; a '+'-list such as linrep+add), as do
 * `linrep-edge export-project --kernels` and `mcu-bench --kernels`. Default: 0x1Fu.
 *
 * Build option: -DLR_OPT_FAST=0 or 1, the optimised int8 kernels' shape-specific fast paths (constant-position
 * 3 x 3 and 1 x 1 gathers, the column-free 1 x 1 conv, the one-channel 3 x 3 path, the template-stationary and
 * paired-channel reuse steps). Default: 1, and 0 in size-optimised builds (-Os defines __OPTIMIZE_SIZE__), where
 * the generic loops do the same work in less code (about 8 KB less at -Os on Cortex-M4 with every optimised
 * kernel linked) and up to several times the instructions on some models. -Os with -DLR_OPT_FAST=1 is the middle
 * ground: `linrep-edge mcu-bench` measures the three builds of a blob (its smallest build at -Os, at -Os with the
 * fast paths, at -O2), `export-project --fast-paths` writes it. Outputs are the same bytes either way.
 *
 * Build option: -DLR_PLANE_WIDE=0, in builds with the fast paths, leaves out the padded-plane kernel of convs with
 * one input channel per group and 5- or 7-wide kernels (the 5 x 5 and 7 x 7 depthwise convs of MobileNetV3 /
 * MCUNet-style nets; about 3 KB at -O2 on Cortex-M4); such convs, if any, run the generic paths (several times the
 * instructions). `linrep-edge export-project` and `mcu-bench` write it for a blob without such convs. Default: 1.
 *
 * Build option: -DLR_TFLITE_MEAN=0 leaves out TFLite's int8 MEAN (an int8 ADAPTIVE_AVG_POOL2D with a multiplier,
 * which only an imported .tflite holds: docs/INTEGER.md section 5); lr_init refuses such a blob with
 * LR_ERR_UNSUPPORTED_OP. `linrep-edge export-project` and `mcu-bench` write it for a blob without one. Default: 1.
 *
 * Build option: -DLR_PLANNER=0, the memory plan computed offline (as TFLite Micro's offline planner): the
 * planner and the cost model's choice of paths are not linked (about 2.5 KB at -Os on Cortex-M4). lr_init
 * verifies the blob as always (the graph's lifetimes too) but plans nothing: lr_arena_size, lr_arena_prepare
 * and lr_run return LR_ERR_BAD_PLAN until lr_set_plan gives a plan that a full build wrote with
 * lr_plan_export (`linrep-edge export-project --offline-plan` writes one); lr_set_conv_path, lr_set_ram_limit
 * and lr_plan_export return LR_ERR_UNSUPPORTED_OP. The plan is checked against the model in lr_set_plan, so a
 * wrong plan is refused, never run. Default: 1 (lr_set_plan works in full builds too).
 *
 * Build option: -DLR_STATUS_TEXTS=0, lr_status_str returns "" for every status: the texts (about 0.75 KB at
 * -Os on Cortex-M) are not linked, the codes and everything else are unchanged (as TFLite Micro's
 * TF_LITE_STRIP_ERROR_STRINGS). For firmware that logs the numeric code; the host tools name it
 * (`linrep-edge` prints a status's text from its number). `export-project --no-status-texts` writes it;
 * `mcu-bench` measures its smallest build with it. Default: 1.
 */

/*
 * Status codes. LR_OK is 0; every error is negative. Codes and their texts (lr_status_str) come
 * from this one list: X(name, value, text).
 */
#define LR_STATUS_LIST(X)                                                                          \
    X(LR_OK, 0, "ok")                                                                              \
    /* A required pointer argument was NULL. */                                                    \
    X(LR_ERR_NULL_ARG, -1, "null argument")                                                        \
    /* The blob is shorter than its header, or its root table lies past the end. */                \
    X(LR_ERR_TRUNCATED, -2, "blob truncated or too small")                                         \
    /* Bytes 4..7 are not the file identifier "LRE1": not a .lre blob. */                          \
    X(LR_ERR_BAD_IDENTIFIER, -3, "bad file identifier (not a .lre blob)")                          \
    /* format_version is 0 (invalid) or newer than LR_FORMAT_VERSION (upgrade the runtime). */     \
    X(LR_ERR_VERSION, -4, "unsupported format version")                                            \
    /* Model.crc32 is missing or differs from the CRC-32 of the blob: corrupted or truncated. */   \
    X(LR_ERR_CRC, -5, "CRC-32 mismatch (blob corrupted or truncated)")                             \
    /* An offset (root, vtable, table, vector, string) points outside the blob. */                 \
    X(LR_ERR_OUT_OF_BOUNDS, -6, "offset out of bounds")                                            \
    /* A table or vtable is malformed: misaligned, or a field lies outside its table. */           \
    X(LR_ERR_BAD_TABLE, -7, "malformed table or vtable")                                           \
    /* A vector or string has a bad length or alignment, or a string lacks its terminator. */      \
    X(LR_ERR_BAD_VECTOR, -8, "bad vector length or alignment")                                     \
    /* A tensor shape is invalid: rank not 1..LR_MAX_RANK, a dimension < 1, or too many elements. */\
    X(LR_ERR_BAD_TENSOR, -9, "bad tensor shape")                                                   \
    /* A tensor id is out of range, read before it is written, written twice, or the model input */\
    /* is written by an op. */                                                                     \
    X(LR_ERR_BAD_GRAPH, -10, "bad tensor reference or op order")                                   \
    /* An op parameter is invalid (stride, dilation, kernel, padding, groups, channel counts, */    \
    /* number of inputs, constant references) or its inputs have the wrong rank. */                \
    X(LR_ERR_BAD_PARAMS, -11, "bad op parameters")                                                 \
    /* An op's stored output shape differs from the one computed from its inputs and parameters. */\
    X(LR_ERR_SHAPE_MISMATCH, -12, "op output shape does not match its inputs")                     \
    /* A packed template index is >= the codebook size K. */                                       \
    X(LR_ERR_INDEX_RANGE, -13, "template index out of codebook range")                             \
    /* LinRep index_bits is not in 1..16, or the packed index vector has the wrong byte count. */  \
    X(LR_ERR_INDEX_WIDTH, -14, "bad index bit width or packed length")                             \
    /* A codebook is invalid: kernel size or K < 1, bad dtype, wrong number of values, or its */    \
    /* kernel size differs from the op's. */                                                       \
    X(LR_ERR_BAD_CODEBOOK, -15, "bad codebook")                                                    \
    /* A constant is invalid: bad dtype, wrong number of values for its shape or dtype, or a */     \
    /* shape that does not fit its use (weight, bias, slopes); or LinRep a/b of the wrong length. */\
    X(LR_ERR_BAD_CONSTANT, -16, "bad constant")                                                    \
    /* A size computed from the blob does not fit in 32 bits (blob > 2 GiB, arena, products). */   \
    X(LR_ERR_OVERFLOW, -17, "size overflow")                                                       \
    /* The arena passed to lr_run is smaller than lr_arena_size (plus alignment slack). */         \
    X(LR_ERR_ARENA_TOO_SMALL, -18, "arena too small")                                              \
    /* input_len or output_len differs from lr_input_size / lr_output_size. */                     \
    X(LR_ERR_IO_SIZE, -19, "input or output length mismatch")                                      \
    /* More than LR_MAX_TENSORS tensors or LR_MAX_OPS ops. */                                      \
    X(LR_ERR_TOO_MANY, -20, "too many tensors or ops")                                             \
    /* An op type this runtime does not know (a newer producer). */                                \
    X(LR_ERR_UNSUPPORTED_OP, -21, "unsupported op type")                                           \
    /* The lr_model was not set up by a successful lr_init. */                                     \
    X(LR_ERR_NOT_INITIALIZED, -22, "model not initialised (lr_init failed or not called)")        \
    /* An index argument (op index) is out of range. */                                            \
    X(LR_ERR_RANGE, -23, "argument out of range")                                                  \
    /* lr_set_plan: the offline memory plan is malformed, for another blob, or does not hold the */\
    /* model (overlapping live buffers, a scratch too small, a path not compiled in); or a build */ \
    /* with -DLR_PLANNER=0 was asked for the arena or a run before lr_set_plan. */                  \
    X(LR_ERR_BAD_PLAN, -24, "memory plan missing, malformed or not for this model")

typedef enum lr_status {
#define LR_STATUS_ENUM_(name, value, text) name = (value),
    LR_STATUS_LIST(LR_STATUS_ENUM_)
#undef LR_STATUS_ENUM_
} lr_status;

/*
 * A verified model: small, fixed size, owned by the caller (stack, static or heap). It refers to
 * the blob and holds a few offsets and sizes; it holds no other pointer. Its size and layout do not
 * depend on any build option (lr_model_sizeof gives it to bindings). Treat the fields as private:
 * they may change between versions. Copying the struct is allowed.
 */
typedef struct lr_model {
    const unsigned char *blob; /* the caller's blob, read in place */
    uint32_t size;             /* blob bytes */
    uint32_t magic;            /* set by a successful lr_init */
    uint32_t root;             /* byte offset of the Model table */
    uint32_t tensors;          /* byte offsets of the first element of each vector, and counts */
    uint32_t ops;
    uint32_t codebooks;
    uint32_t n_tensors;
    uint32_t n_ops;
    uint32_t n_codebooks;
    int32_t input;             /* tensor ids (the input is always tensor 0) */
    int32_t output;            /* the first output */
    uint32_t outputs;          /* byte offset of Model.outputs' first id (0: absent, the one output) */
    uint32_t n_outputs;        /* its length */
    uint32_t input_len;        /* elements */
    uint32_t output_len;       /* elements of all outputs together */
    uint32_t plan_bytes;       /* arena: the run plan, then the activation region: tensors (act_bytes), */
    uint32_t act_bytes;        /* then what each op's scratch (placed per op among the tensors) or the */
    uint32_t scratch_bytes;    /* planning records add above them */
    uint32_t act_lower_bound;
    int32_t fail_op;           /* where lr_init failed (-1: not in an op / not in a tensor) */
    int32_t fail_tensor;
    uint32_t conv_path;        /* lr_conv_path in force (LR_PATH_AUTO after lr_init) */
    uint32_t ram_limit;        /* lr_set_ram_limit: arena bytes the plan may use for speed (0: the least) */
    uint32_t crc32;            /* the blob's CRC-32 (identifies the model's plan in an arena) */
    uint32_t tensor_quant;     /* byte offset of Model.tensor_quant's first entry; 0: an fp32 model */
    const uint32_t *plan;      /* lr_set_plan: the caller's offline plan, read in place (NULL: the runtime's) */
} lr_model;

/*
 * How LINREP_CONV2D ops are computed (lr_set_conv_path). Both give the same result up to fp32
 * rounding (the terms are summed in a different order; measured within 1e-5 relative):
 *
 * LR_PATH_DIRECT: the plain reference. Per output channel, its kernels are rebuilt a * T[idx] + b
 *   and convolved: Cin/groups * Cout * kh * kw multiply-adds per output pixel.
 * LR_PATH_REUSE: template reuse. Convolving input channel i with a * T[t] + b * 1 is
 *   a * (x_i * T[t]) + b * boxsum(x_i). For each input channel, the responses x_i * T[t] are
 *   computed once for every template t that its kernels use, the box-sum once (running sums:
 *   a prefix sum along each row, then down each column, two subtractions per output pixel), and
 *   every output channel adds a * response + b * boxsum. Multiply-adds per output pixel:
 *   sum_i (templates used by channel i) * kh * kw + 2 * Cin/groups * Cout + the box-sums.
 *   Tiled by output rows (LR_REUSE_TILE_FLOATS), so its scratch is small and bounded.
 * LR_PATH_AUTO (after lr_init): per op, the cost model of lr_op_conv_info picks the cheaper path.
 *
 * Dense CONV2D ops, and the LinRep convs of fp32 models with pruned kernels (a kernel mask: the direct
 * path skips them), always run the direct path (int8 template reuse takes masks). Build option
 * LR_LINREP_PATHS (above) compiles in one path only.
 */
typedef enum lr_conv_path {
    LR_PATH_AUTO = 0,
    LR_PATH_DIRECT = 1,
    LR_PATH_REUSE = 2
} lr_conv_path;

/*
 * The cost model of one conv op (lr_op_conv_info). A pure function of the op's shape and of the
 * number of distinct templates each input channel's kernels use (U = the sum of those counts over
 * the groups' input channels; Python reads it through the binding). With P = oh * ow output
 * pixels, n = Cout * Cin/groups kernels, kk = kh * kw, and taps = the number of (tap, output pixel)
 * pairs of one kernel that fall inside the input (padding taps are skipped):
 *
 *   direct_macs  = n * taps + n * kk                       conv + kernel rebuild
 *   direct_words = 3 * n * taps + 2 * n * kk + 3 * Cout * P  x load, y load+store; rebuild; zero+bias
 *   box          = Cin * (ih * iw + 2 * ih * ow + P)         running box-sums (adds)
 *   reuse_macs   = U * taps + 2 * n * P + box                responses, a*r + b*s per kernel, box-sums
 *   reuse_words  = 3 * U * taps + 4 * n * P + 2 * box + 3 * Cout * P + K
 *   cost = macs + words (multiply-adds plus 4-byte memory accesses); AUTO takes reuse iff
 *   reuse_cost < direct_cost. Values saturate at UINT64_MAX.
 * Int8 models (format version 4, optimised kernels): direct_cost and reuse_cost are instead the optimised
 * int8 kernels' estimated executed instructions, calibrated per core (the DSP kernels on M4/M7/M33, the
 * portable ones elsewhere, the host included; src/lr_cost.c), so AUTO takes the faster path on that core;
 * the other fields keep the formulas above.
 */
typedef struct lr_conv_cost {
    uint32_t path;           /* the path op runs: LR_PATH_DIRECT or LR_PATH_REUSE; 0: not a conv */
    uint32_t templates_used; /* U (LinRep convs; 0 otherwise) */
    uint32_t kernels;        /* n = Cout * Cin/groups */
    uint32_t tile_rows;      /* output rows per tile of the reuse path (LinRep convs) */
    uint64_t direct_macs, direct_words, direct_cost;
    uint64_t reuse_macs, reuse_words, reuse_cost; /* 0 for ops other than LinRep convs */
    uint64_t reuse_scratch_bytes; /* scratch of the reuse path for this op (LinRep convs) */
} lr_conv_cost;

/*
 * Called by lr_run_hooked after op `op_index` (0-based, execution order) has written its output.
 * `ctx` is the caller's pointer, passed through unchanged. It must not call back into the runtime
 * with the same arena.
 */
typedef void (*lr_op_hook)(void *ctx, unsigned op_index);

/*
 * Offline memory plans. A plan is LR_PLAN_HEAD + T + 2 * ops + ceil(ops / 32) 32-bit words for a model of T
 * tensors and `ops` ops:
 *   word 0  LR_PLAN_MAGIC        word 1  the blob's CRC-32      word 2  T      word 3  ops
 *   word 4  the activation region's bytes (a multiple of LR_ARENA_ALIGN): the arena lr_run needs
 *   then    each tensor's byte offset in the region (0 for a tensor no op uses)
 *   then    per op: its kernel scratch's byte offset in the region and its bytes
 *   then    per-op bits: bit k set when op k (a LINREP_CONV2D) runs template reuse
 * Host-endian words (the tools write little-endian, as every Cortex-M runs).
 */
#define LR_PLAN_MAGIC 0x4C50524Cu /* "LRPL" */
#define LR_PLAN_HEAD 5u

/*
 * lr_plan_export: the memory plan lr_run uses for `m` (its path and RAM limit in force), as the words above, for
 * a build with -DLR_PLANNER=0 to take with lr_set_plan. Call with plan = NULL to get *plan_words (the size is
 * asked before the work); then with a buffer of at least that many words and an arena of lr_arena_size bytes
 * (as lr_run's; planning uses it, as lr_arena_prepare would). The region in the plan is the tensors' and
 * scratch's top: no room for planning records, so a device arena may be smaller than this build's.
 * Errors: LR_ERR_NULL_ARG (m, plan_words, or arena with a plan buffer), LR_ERR_NOT_INITIALIZED,
 * LR_ERR_RANGE (plan_capacity too small), LR_ERR_ARENA_TOO_SMALL, LR_ERR_UNSUPPORTED_OP (-DLR_PLANNER=0).
 */
lr_status lr_plan_export(const lr_model *m, void *arena, size_t arena_bytes, uint32_t *plan, size_t plan_capacity,
                         size_t *plan_words);

/*
 * lr_set_plan: run `m` on the offline memory plan `plan` of `plan_words` words (lr_plan_export's), read in place
 * (it must outlive m, as the blob). Checked here, O(T^2 + ops * T): the length, magic and counts, the blob's
 * CRC-32, every used tensor's buffer inside the region and 16-byte aligned, no two tensors live at once
 * overlapping, each op's scratch inside the region, aligned, free of the tensors live during the op, and at least
 * the least its kernel takes on its path (more is fine: a plan made by a -O2 build runs on a -Os one, whose
 * kernels prefer less), the reuse bit only on LinRep convs that can run it and only for paths compiled in. After it, lr_arena_size is the plan's region, and lr_set_conv_path and
 * lr_set_ram_limit return LR_ERR_UNSUPPORTED_OP (the plan fixes both). Errors: LR_ERR_NULL_ARG,
 * LR_ERR_NOT_INITIALIZED, LR_ERR_BAD_PLAN (m is unchanged then).
 */
lr_status lr_set_plan(lr_model *m, const uint32_t *plan, size_t plan_words);

/*
 * lr_status_str: a short, static, NUL-terminated English text for `status` ("ok" for LR_OK and
 * "unknown status" for a value that is not an lr_status); "" for every status in a build with
 * -DLR_STATUS_TEXTS=0. Never returns NULL. Thread-safe.
 */
const char *lr_status_str(lr_status status);

/*
 * lr_init: verify `blob` (`size` bytes) completely and set up `*m` to run it, with LR_PATH_AUTO
 * (each LinRep conv on the path the cost model finds cheaper, see lr_set_conv_path).
 *
 * Checks, in this order: arguments; size and file identifier "LRE1"; the root table; format_version
 * (1 .. LR_FORMAT_VERSION); the CRC-32 (zlib's, over the whole blob with the 4 bytes of the crc32
 * field read as zero); every vtable, table, vector and string offset and length; every tensor shape;
 * every constant and codebook size and dtype; every packed index (< K); the graph (tensor ids in
 * range, each tensor written at most once and before it is read, the input never written); every
 * op's parameters and its output shape recomputed from its inputs (LinRep fields only on LINREP_CONV2D and
 * CONV_TRANSPOSE2D, never beside a dense weight: LR_ERR_BAD_PARAMS / LR_ERR_BAD_CONSTANT); the arena plan
 * (sizes fit 32 bits).
 *
 * An int8 model (format version 4, Model.tensor_quant present; docs/INTEGER.md) is checked further:
 * every tensor's scale positive and finite and zero point in -128 .. 127; every op one with an int8 form
 * (every op type of this format version has one, docs/INTEGER.md gives its arithmetic; a type without one:
 * LR_ERR_UNSUPPORTED_OP);
 * multipliers >= 0 and shifts in -31 .. 30 of the length the op needs, act_min <= act_max, int8
 * weights, int32 biases, int8 codebooks, LinRep integer a/b with a b_exponent per output channel
 * (LR_ERR_BAD_PARAMS or LR_ERR_BAD_CONSTANT / LR_ERR_BAD_CODEBOOK otherwise); quantisation equal where
 * docs/INTEGER.md requires it (pools, byte moves; LR_ERR_BAD_PARAMS); the int32 accumulator bound of
 * CONV2D, LINEAR, LINREP_CONV2D, AFFINE and CONV_TRANSPOSE2D, |bias| + 255 * sum |W| < 2^31 per output
 * channel, also after the requantisation's left shift, MUL's 255 * 255 * 2^shift < 2^31, and a bilinear
 * RESIZE's integer positions inside its input (LR_ERR_BAD_PARAMS). Version-4 fields in a blob that says an older
 * version: LR_ERR_VERSION; in an fp32 model: LR_ERR_BAD_PARAMS.
 *
 * Returns LR_OK, or the first error found (any error code except LR_ERR_ARENA_TOO_SMALL,
 * LR_ERR_IO_SIZE, LR_ERR_NOT_INITIALIZED and LR_ERR_RANGE). On error `*m` is cleared (lr_run then
 * refuses it) except for the location reported by lr_error_location.
 *
 * Memory: writes `*m` only; no allocation. Stack: the verifier's or the plan's, the larger: the plan's
 * records (16 B per tensor, in a frame of 16, 64 or LR_MAX_TENSORS records, see Limits) and about 600 B,
 * or the conv path choice (the cost model, about 1 KB, before the records are on the stack): 1,108 B
 * painted for the default int8 ResNet-8 (16 tensors) on Cortex-M4, -O2, lr_init and lr_arena_prepare
 * together.
 * Time: linear in the blob size plus O(tensors^2) for the plan, plus one pass over every LinRep op's
 * packed indices for the path choice (ceil(K / 512) passes per input channel). The blob is not modified and must
 * outlive every use of `*m`. Thread-safe (touches nothing but `*m`).
 */
lr_status lr_init(lr_model *m, const void *blob, size_t size);

/*
 * lr_error_location: after lr_init failed, the op and the tensor it was checking (-1 for either when
 * the error is not about one), e.g. op 3 for a bad stride in op 3. After success both are -1.
 * Returns LR_ERR_NULL_ARG if any argument is NULL, otherwise LR_OK. Thread-safe.
 */
lr_status lr_error_location(const lr_model *m, int32_t *op_index, int32_t *tensor_index);

/*
 * lr_arena_size: the number of bytes of arena lr_run needs, for an arena aligned to LR_ARENA_ALIGN,
 * exactly: lr_run succeeds with this many bytes and returns LR_ERR_ARENA_TOO_SMALL with one byte less.
 * (A misaligned arena is aligned up inside lr_run and needs up to LR_ARENA_ALIGN - 1 more bytes.)
 * The arena holds, in order: the run plan (4 bytes per tensor, 8 per op, a bit per op and 12 bytes, see
 * lr_arena_prepare) and the activation region. In the region, tensors share buffers when their lifetimes do
 * not overlap (greedy first-fit by size, as TFLite Micro), an int8 activation (RELU, RELU6, CLAMP, LEAKY_RELU,
 * PRELU, SIGMOID, TANH, HARDSWISH, HARDSIGMOID, SILU, UNARY) whose input is read by no later op and is not the model
 * input writes its output over that input (one buffer for both), and each op's kernel scratch is a buffer live
 * during that op only, placed in memory no tensor live during the op uses (a gap, or above them). The
 * region is at least 16 bytes per tensor (the planning records while lr_run plans). What an op's scratch
 * is depends on the path it runs: direct path, one output channel's kernels (Cin/groups * kh * kw values:
 * fp32 for fp16 / int8 weights of fp32 models, int32 in int8 models, after, for fp32 LinRep convs, the
 * layer's codebook decoded to fp32, K * kh * kw floats); the optimised int8 LinRep direct kernel uses more
 * when it fits, for blocks of output channels with int16 kernels (up to 8 KB + 4 * Cin/groups * kh * kw);
 * reuse path, lr_conv_cost.reuse_scratch_bytes. Which path and how much scratch each op gets is bounded by
 * the RAM limit (lr_set_ram_limit): by default, for int8 models, the least arena the model can run in, every
 * op given the most scratch that keeps the arena there, and LinRep convs whose reuse scratch would raise it
 * running the direct path; for fp32 models no limit (every op its preferred path and scratch). The size depends on the path setting and the RAM limit: ask again after lr_set_conv_path or
 * lr_set_ram_limit. On an offline plan (lr_set_plan): the plan's region, which holds no plan words.
 * Returns LR_ERR_NULL_ARG, LR_ERR_NOT_INITIALIZED, LR_ERR_BAD_PLAN (-DLR_PLANNER=0 before lr_set_plan) or LR_OK.
 * Thread-safe.
 */
lr_status lr_arena_size(const lr_model *m, size_t *bytes);

/*
 * lr_arena_prepare: plan `arena` for `m` now: what the first lr_run on an arena does otherwise. The
 * plan (each tensor's place in the arena, the O(tensors^2) greedy planner of lr_arena_size, and each
 * op's conv path under the path in force, which for LR_PATH_AUTO is one pass over every LinRep op's
 * packed indices) is written at the arena head, stamped with the model (blob address, size and
 * CRC-32, the path in force) and a checksum. Every later lr_run of `m` (or of a copy of it) on this
 * arena finds it there (an O(tensors + ops) check) and does not plan again, as long as the caller
 * leaves the first lr_arena_size bytes' plan part alone; if it was overwritten, or the arena was
 * last used for another model or path, lr_run plans again. Optional: use it to keep the planning
 * out of the first inference (firmware calls it at boot, after lr_init).
 * On an offline plan (lr_set_plan) there is nothing to prepare: the size is checked, LR_OK.
 * Returns LR_OK; LR_ERR_NULL_ARG (m or arena NULL); LR_ERR_NOT_INITIALIZED (m not initialised, or
 * the blob changed after lr_init); LR_ERR_BAD_PLAN (-DLR_PLANNER=0 before lr_set_plan);
 * LR_ERR_ARENA_TOO_SMALL (arena_bytes below lr_arena_size plus alignment slack; the arena is untouched).
 * Thread-safe for distinct arenas.
 */
lr_status lr_arena_prepare(const lr_model *m, void *arena, size_t arena_bytes);

/*
 * lr_activation_lower_bound: bytes of activations that must coexist at the busiest op: the maximum
 * over ops of the sum of numel * 4 (int8 models: numel) over the tensors live at that op (the model input from
 * the start, the op's inputs and output, every tensor still to be read later, and the model output to the end;
 * an int8 activation written over its input, see lr_arena_size, counted once with it).
 * No plan that keeps whole tensors and gives an op's output its own buffer (but for those) can use less; compare
 * with lr_arena_size (which adds the plan records, alignment and kernel scratch) to judge the planner.
 * (With several outputs, every output stays live to the end.)
 * Returns LR_ERR_NULL_ARG, LR_ERR_NOT_INITIALIZED or LR_OK. Thread-safe.
 */
lr_status lr_activation_lower_bound(const lr_model *m, size_t *bytes);

/*
 * lr_input_size / lr_output_size: number of float elements of the model input / output. For a model
 * with several outputs (lr_output_count > 1), lr_output_size is their total: the length of the one
 * output buffer lr_run fills with all of them, concatenated in order.
 * Returns LR_ERR_NULL_ARG, LR_ERR_NOT_INITIALIZED or LR_OK. Thread-safe.
 */
lr_status lr_input_size(const lr_model *m, size_t *elems);
lr_status lr_output_size(const lr_model *m, size_t *elems);

/*
 * lr_input_shape / lr_output_shape: the shape without batch dimension ([C, H, W] or [F]): writes
 * `*rank` (1 .. LR_MAX_RANK) and dims[0 .. rank-1]; dims must hold LR_MAX_RANK values.
 * lr_output_shape is the shape of the first output (lr_output_shape_at gives each).
 * Returns LR_ERR_NULL_ARG, LR_ERR_NOT_INITIALIZED or LR_OK. Thread-safe.
 */
lr_status lr_input_shape(const lr_model *m, int32_t dims[LR_MAX_RANK], unsigned *rank);
lr_status lr_output_shape(const lr_model *m, int32_t dims[LR_MAX_RANK], unsigned *rank);

/*
 * Several outputs (format version 3: Model.outputs, e.g. a detector's heads). lr_output_count: how
 * many (1 for a model with one output). lr_output_size_at / lr_output_shape_at: the element count /
 * shape (as lr_output_shape) of output `index`, 0 .. count - 1. lr_run writes output 0 at output[0],
 * output 1 right after it (at the sum of the sizes before it), and so on; every output is computed
 * in full whatever the caller reads.
 * Returns LR_ERR_NULL_ARG, LR_ERR_NOT_INITIALIZED, LR_ERR_RANGE (index >= lr_output_count) or LR_OK.
 * Thread-safe.
 */
lr_status lr_output_count(const lr_model *m, unsigned *count);
lr_status lr_output_size_at(const lr_model *m, unsigned index, size_t *elems);
lr_status lr_output_shape_at(const lr_model *m, unsigned index, int32_t dims[LR_MAX_RANK], unsigned *rank);

/*
 * lr_op_count: number of ops (what lr_op_hook's op_index counts).
 * Returns LR_ERR_NULL_ARG, LR_ERR_NOT_INITIALIZED or LR_OK. Thread-safe.
 */
lr_status lr_op_count(const lr_model *m, unsigned *count);

/*
 * lr_op_info: the type (the schema's OpType value: linrep_edge/schema/lre.fbs, 0 = CONV2D,
 * 1 = LINREP_CONV2D, ...) and the name (module path in the source model) of op `op_index`.
 * `*name` points into the blob (NUL-terminated, "" when the op has none). Either output pointer may
 * be NULL if not wanted. Returns LR_ERR_NULL_ARG (m NULL), LR_ERR_NOT_INITIALIZED, LR_ERR_RANGE
 * (op_index >= lr_op_count) or LR_OK. Thread-safe.
 */
lr_status lr_op_info(const lr_model *m, unsigned op_index, unsigned *type, const char **name);

/*
 * lr_set_conv_path: choose how LINREP_CONV2D ops run (see lr_conv_path): LR_PATH_AUTO (the default
 * set by lr_init: per op, the cheaper path by the cost model), or force LR_PATH_DIRECT or
 * LR_PATH_REUSE for every LinRep op (tests, benchmarks). Recomputes the per-op choice and the
 * scratch size: call lr_arena_size again afterwards, the arena needed may change.
 * Time: for AUTO, one pass over every LinRep op's packed indices (ceil(K / 512) passes per
 * input channel). Returns LR_ERR_NULL_ARG, LR_ERR_NOT_INITIALIZED, LR_ERR_RANGE (path is not one
 * of the three values; the model is unchanged), LR_ERR_UNSUPPORTED_OP (a path left out of this build,
 * LR_LINREP_PATHS, or any path on an offline plan or in a build with -DLR_PLANNER=0: the plan fixes the
 * paths; the model is unchanged), LR_ERR_OVERFLOW (the arena would not fit 32 bits; the model is unchanged) or
 * LR_OK. Not thread-safe with lr_run on the same model (it writes *m).
 */
lr_status lr_set_conv_path(lr_model *m, lr_conv_path path);

/*
 * lr_set_ram_limit: trade RAM for speed. The plan may use up to `arena_bytes` of arena (lr_arena_size is then
 * at most that, or the least arena the model can run in if that is more): a LinRep conv runs the reuse
 * path the path setting chooses when its scratch fits, and a kernel that runs faster with more scratch (the
 * optimised int8 LinRep direct kernel: bigger blocks of output channels) gets up to its preferred size.
 * 0 gives the least arena, the default for int8 models after lr_init (their RAM is what they are for); SIZE_MAX
 * gives every op its preferred path and scratch (the fastest; lr_arena_size says how much that is), the
 * default for fp32 models (whose activations take 4x an int8 model's anyway). Results are the same bit for bit whatever the
 * limit (int8 models; fp32 models: up to the path's fp32 rounding, see lr_conv_path). Kept across
 * lr_set_conv_path. Call lr_arena_size again afterwards. Time: as lr_set_conv_path, plus the plan
 * (O(tensors^2 + ops * tensors)). Stack: as lr_init's plan.
 * Returns LR_ERR_NULL_ARG, LR_ERR_NOT_INITIALIZED, LR_ERR_OVERFLOW (the model is unchanged),
 * LR_ERR_UNSUPPORTED_OP (on an offline plan, or in a build with -DLR_PLANNER=0: the plan fixes the arena) or
 * LR_OK. Not thread-safe with lr_run on the same model (it writes *m).
 */
lr_status lr_set_ram_limit(lr_model *m, size_t arena_bytes);

/*
 * lr_op_conv_info: the cost model of op `op_index` and the path it runs under the path in force
 * (see lr_conv_cost). For a LINREP_CONV2D op every field is filled; for a dense CONV2D op path is
 * LR_PATH_DIRECT and the direct fields are filled (no rebuild term); for other ops every field is 0.
 * Time: one pass over the op's packed indices; for a LINREP_CONV2D op, whose path is the plan's (the RAM
 * limit may run an AUTO reuse op direct: lr_set_ram_limit), also the plan (as lr_set_ram_limit, its stack
 * too; on an offline plan, the plan's bit). Returns LR_ERR_NULL_ARG, LR_ERR_NOT_INITIALIZED,
 * LR_ERR_RANGE (op_index >= lr_op_count), LR_ERR_BAD_PLAN (a LinRep conv, -DLR_PLANNER=0 before lr_set_plan)
 * or LR_OK. Thread-safe.
 */
lr_status lr_op_conv_info(const lr_model *m, unsigned op_index, lr_conv_cost *info);

/*
 * lr_run: run the model on one input.
 *
 * `input` holds input_len floats (the input shape, row-major, no batch dimension); `output`
 * receives output_len floats (lr_output_size: with several outputs, all of them concatenated in
 * order, see lr_output_count). `arena` is arena_bytes bytes of caller memory, ideally aligned to
 * LR_ARENA_ALIGN. Its head holds the plan (see lr_arena_prepare): a plan left there for this model
 * by an earlier call is used, anything else is replaced by a new plan (O(tensors^2) steps, plus the
 * conv path choice); the rest of the arena's contents on entry are ignored, and on return the
 * arena holds the plan and unspecified data. The input is copied into the arena first and the
 * output written last, so `input` and `output` may be the same buffer; neither may overlap
 * the arena.
 *
 * An int8 model (lr_input_quant gives a non-zero scale) runs its integer ops (lr_run_i8): lr_run
 * quantises the input, q = round(x / scale) + zero_point (fp32 division, round half away from zero,
 * saturated to -128 .. 127; NaN gives the zero point), and dequantises every output, scale * (q -
 * zero_point) in fp32.
 *
 * Returns LR_OK; LR_ERR_NULL_ARG (m, arena, input or output NULL); LR_ERR_NOT_INITIALIZED (m not
 * initialised, or, when it plans, the blob changed after lr_init); LR_ERR_IO_SIZE (input_len or
 * output_len wrong); LR_ERR_BAD_PLAN (-DLR_PLANNER=0 before lr_set_plan); LR_ERR_ARENA_TOO_SMALL (nothing
 * is run, arena and `output` are untouched).
 * No other error is possible: the blob was verified by lr_init.
 *
 * Thread-safe for distinct arenas and outputs; reads the blob and `*m`, writes the arena and
 * `output`. No allocation; stack use is small and constant.
 */
lr_status lr_run(const lr_model *m, void *arena, size_t arena_bytes, const float *input,
                 size_t input_len, float *output, size_t output_len);

/*
 * lr_run_hooked: lr_run, calling hook(ctx, k) after op k has run (hook may be NULL). The hook sees
 * ops in execution order, k = 0 .. lr_op_count - 1; it is not called when lr_run fails its
 * argument checks. Same contract as lr_run otherwise.
 */
lr_status lr_run_hooked(const lr_model *m, void *arena, size_t arena_bytes, const float *input,
                        size_t input_len, float *output, size_t output_len, lr_op_hook hook,
                        void *ctx);

/*
 * lr_run_i8: run an int8 model (format version 4) on one int8 input, integers only: no floating-point
 * operation is executed (it runs on an FPU-less core without soft-float routines). `input` holds
 * input_len int8 values (lr_input_size), quantised with lr_input_quant's scale and zero point;
 * `output` receives output_len int8 values (lr_output_size: every output, concatenated in order, each
 * quantised as lr_output_quant_at says). The results are docs/INTEGER.md's, bit for bit (TFLite's
 * integer arithmetic for its ops). Arena, plan, hook-less: as lr_run (the same lr_arena_size).
 * Returns LR_OK; LR_ERR_NULL_ARG; LR_ERR_NOT_INITIALIZED; LR_ERR_UNSUPPORTED_OP (an fp32 model: use
 * lr_run); LR_ERR_IO_SIZE; LR_ERR_ARENA_TOO_SMALL (nothing is run). Thread-safe as lr_run.
 */
lr_status lr_run_i8(const lr_model *m, void *arena, size_t arena_bytes, const int8_t *input, size_t input_len,
                    int8_t *output, size_t output_len);

/*
 * lr_run_i8_hooked: lr_run_i8, calling hook(ctx, k) after op k has run (hook may be NULL), as
 * lr_run_hooked does; not called when lr_run_i8 fails its argument checks. Same contract and error
 * codes as lr_run_i8 otherwise (the Cortex-M bench counts instructions per op with it).
 */
lr_status lr_run_i8_hooked(const lr_model *m, void *arena, size_t arena_bytes, const int8_t *input,
                           size_t input_len, int8_t *output, size_t output_len, lr_op_hook hook, void *ctx);

/*
 * lr_input_quant / lr_output_quant_at: the quantisation of the model input / of output `index`
 * (0 .. lr_output_count - 1) of an int8 model: real = scale * (q - zero_point). For an fp32 model both
 * are 0 (a zero scale says the model is fp32). Reads the blob's float bit pattern: no float arithmetic.
 * Returns LR_ERR_NULL_ARG (any pointer NULL), LR_ERR_NOT_INITIALIZED, LR_ERR_RANGE (index >=
 * lr_output_count) or LR_OK. Thread-safe.
 */
lr_status lr_input_quant(const lr_model *m, float *scale, int32_t *zero_point);
lr_status lr_output_quant_at(const lr_model *m, unsigned index, float *scale, int32_t *zero_point);

/*
 * lr_model_sizeof: sizeof(lr_model), for foreign-function bindings that allocate it themselves.
 */
size_t lr_model_sizeof(void);

#ifdef __cplusplus
}
#endif

#endif /* LINREP_H */
