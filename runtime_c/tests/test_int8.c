/*
 * test_int8.c -- int8 models (format version 4): lr_run_i8 against the Python integer reference.
 *
 * For each "NAME N" line of DIR/int8.txt (written by gen_test_blobs.py): lr_init(NAME.lre); under each
 * conv path (AUTO, DIRECT, REUSE) run the N int8 inputs of NAME.in8 with lr_run_i8 in an arena of exactly
 * lr_arena_size bytes (heap: ASan sees any overrun) and compare with NAME.ref8 byte for byte (the
 * outputs of linrep_edge.integer.executor.run_int8, concatenated per input); one byte less of arena is
 * refused; lr_run (fp32) on the model runs and dequantises (its outputs are scale * (q - zp) of int8
 * values); lr_run_i8 on an fp32 blob is refused with LR_ERR_UNSUPPORTED_OP. Built against an
 * integer-only library (-DLR_FP32=0, `make nofp32-check`), the same int8 checks hold and lr_init
 * refuses the fp32 blob. Built with an op selection too (-DLR_OPS=<mask>, `make ops-check`): the blobs whose
 * ops are all in the mask pass the same checks; every other one is refused at its first op left out.
 */
#include <stdio.h>
#include <string.h>

#include "linrep.h"
#include "test_util.h"

/* lr_run_i8_hooked's hook: ops must arrive in order 0, 1, ... */
typedef struct hook_log {
    unsigned calls;
    unsigned out_of_order;
} hook_log;

static void count_op(void *ctx, unsigned op_index)
{
    hook_log *log = (hook_log *)ctx;
    if (op_index != log->calls) {
        log->out_of_order++;
    }
    log->calls++;
}

static void run_path(const char *name, lr_model *m, size_t n, const int8_t *in, const int8_t *ref, lr_conv_path cp)
{
    size_t arena_bytes = 0, in_len = 0, out_len = 0, i;
    unsigned char *arena;
    int8_t *out;
    TU_CHECK_STATUS(lr_set_conv_path(m, cp), LR_OK);
    TU_CHECK_STATUS(lr_arena_size(m, &arena_bytes), LR_OK);
    TU_CHECK_STATUS(lr_input_size(m, &in_len), LR_OK);
    TU_CHECK_STATUS(lr_output_size(m, &out_len), LR_OK);
    arena = (unsigned char *)tu_xmalloc(arena_bytes);
    out = (int8_t *)tu_xmalloc(out_len);
    for (i = 0; i < n; i++) {
        TU_CHECK_STATUS(lr_run_i8(m, arena, arena_bytes, in + i * in_len, in_len, out, out_len), LR_OK);
        if (memcmp(out, ref + i * out_len, out_len) != 0) {
            fprintf(stderr, "%s: input %lu, path %d: output differs from the Python reference\n", name,
                    (unsigned long)i, (int)cp);
            tu_failures++;
        }
    }
    TU_CHECK_STATUS(lr_run_i8(m, arena, arena_bytes - 1u, in, in_len, out, out_len), LR_ERR_ARENA_TOO_SMALL);
    TU_CHECK_STATUS(lr_run_i8(m, arena, arena_bytes, in, in_len + 1u, out, out_len), LR_ERR_IO_SIZE);
    if (n > 0u) { /* the hooked run: the same output, the hook once per op in order, none on a refused call */
        hook_log log = {0u, 0u};
        unsigned ops = 0u;
        TU_CHECK_STATUS(lr_op_count(m, &ops), LR_OK);
        TU_CHECK_STATUS(lr_run_i8_hooked(m, arena, arena_bytes, in, in_len, out, out_len, count_op, &log), LR_OK);
        TU_CHECK(log.calls == ops && log.out_of_order == 0u && memcmp(out, ref, out_len) == 0);
        TU_CHECK_STATUS(lr_run_i8_hooked(m, arena, arena_bytes - 1u, in, in_len, out, out_len, count_op, &log),
                        LR_ERR_ARENA_TOO_SMALL);
        TU_CHECK(log.calls == ops);
        TU_CHECK_STATUS(lr_run_i8_hooked(m, arena, arena_bytes, in, in_len, out, out_len, NULL, NULL), LR_OK);
    }
    free(arena);
    free(out);
}

static void run_float(lr_model *m)
{
    size_t arena_bytes = 0, in_len = 0, out_len = 0, i;
    unsigned char *arena;
    float *in, *out, scale = 0.0f;
    int32_t zp = 0;
    TU_CHECK_STATUS(lr_arena_size(m, &arena_bytes), LR_OK);
    TU_CHECK_STATUS(lr_input_size(m, &in_len), LR_OK);
    TU_CHECK_STATUS(lr_output_size(m, &out_len), LR_OK);
    TU_CHECK_STATUS(lr_output_quant_at(m, 0u, &scale, &zp), LR_OK);
    TU_CHECK(scale > 0.0f && zp >= -128 && zp <= 127);
    arena = (unsigned char *)tu_xmalloc(arena_bytes);
    in = (float *)tu_xmalloc(in_len * sizeof(float));
    out = (float *)tu_xmalloc(out_len * sizeof(float));
    for (i = 0; i < in_len; i++) {
        in[i] = (float)((int)(i % 17u) - 8) * 0.37f;
    }
    TU_CHECK_STATUS(lr_run(m, arena, arena_bytes, in, in_len, out, out_len), LR_OK);
    {   /* the first output: scale * (q - zp) with q an int8 */
        size_t first = 0;
        TU_CHECK_STATUS(lr_output_size_at(m, 0u, &first), LR_OK);
        for (i = 0; i < first; i++) {
            int q;
            int ok = 0;
            for (q = -128; q <= 127 && !ok; q++) {
                ok = out[i] == scale * (float)(q - zp);
            }
            TU_CHECK(ok);
        }
    }
    free(arena);
    free(in);
    free(out);
}

#ifdef LR_OPS
/* A library built with -DLR_OPS=<mask> (`make ops-check`): DIR/int8_ops.txt gives each blob's op types (from
 * the Python side). Returns 1 when all of NAME's ops are compiled in (the blob must then run as in the full
 * library); otherwise checks that lr_init refuses NAME with LR_ERR_UNSUPPORTED_OP at its first op left out,
 * and returns 0. */
static int refused = 0;

static int ops_compiled_in(const char *dir, const char *name)
{
    char path[512], got[256];
    unsigned long k, i, t;
    long first_off = -1;
    int found = 0;
    FILE *f;
    snprintf(path, sizeof path, "%s/int8_ops.txt", dir);
    f = fopen(path, "r");
    TU_CHECK(f != NULL);
    if (f == NULL) {
        return 0;
    }
    while (!found && fscanf(f, "%255s %lu", got, &k) == 2) {
        found = strcmp(got, name) == 0;
        for (i = 0; i < k && fscanf(f, "%lu", &t) == 1; i++) {
            if (found && first_off < 0 && (t >= 32u || !((LR_OPS >> t) & 1u))) {
                first_off = (long)i;
            }
        }
    }
    fclose(f);
    TU_CHECK(found);
    if (first_off >= 0) {
        size_t size;
        unsigned char *blob;
        lr_model m;
        int32_t op = -2, tensor = -2;
        snprintf(path, sizeof path, "%s/%s.lre", dir, name);
        blob = tu_read_file(path, &size);
        TU_CHECK_STATUS(lr_init(&m, blob, size), LR_ERR_UNSUPPORTED_OP);
        TU_CHECK_STATUS(lr_error_location(&m, &op, &tensor), LR_OK);
        if (op != (int32_t)first_off) {
            fprintf(stderr, "%s: refused at op %d, expected op %ld (its first op left out of LR_OPS)\n", name,
                    (int)op, first_off);
            tu_failures++;
        }
        free(blob);
        refused++;
        return 0;
    }
    return 1;
}
#endif

static void run_case(const char *dir, const char *name, size_t n)
{
    char path[512];
    size_t size, in_bytes, ref_bytes, in_len = 0, out_len = 0;
    unsigned char *blob;
    int8_t *in, *ref;
    float scale = 0.0f;
    int32_t zp = 0;
    lr_model m;
    snprintf(path, sizeof path, "%s/%s.lre", dir, name);
    blob = tu_read_file(path, &size);
    snprintf(path, sizeof path, "%s/%s.in8", dir, name);
    in = (int8_t *)(void *)tu_read_file(path, &in_bytes);
    snprintf(path, sizeof path, "%s/%s.ref8", dir, name);
    ref = (int8_t *)(void *)tu_read_file(path, &ref_bytes);
    TU_CHECK_STATUS(lr_init(&m, blob, size), LR_OK);
    TU_CHECK_STATUS(lr_input_size(&m, &in_len), LR_OK);
    TU_CHECK_STATUS(lr_output_size(&m, &out_len), LR_OK);
    TU_CHECK(in_bytes == n * in_len && ref_bytes == n * out_len);
    TU_CHECK_STATUS(lr_input_quant(&m, &scale, &zp), LR_OK);
    TU_CHECK(scale > 0.0f);
    if (in_bytes == n * in_len && ref_bytes == n * out_len) {
        run_path(name, &m, n, in, ref, LR_PATH_AUTO);
#if TU_DIRECT_ON
        run_path(name, &m, n, in, ref, LR_PATH_DIRECT);
#endif
#if TU_REUSE_ON
        run_path(name, &m, n, in, ref, LR_PATH_REUSE);
#endif
        tu_check_paths_left_out(&m);
        run_float(&m);
    }
    free(blob);
    free(in);
    free(ref);
}

int main(int argc, char **argv)
{
    char path[512], name[256];
    unsigned long n;
    int cases = 0;
    FILE *f;
    if (argc != 2) {
        fprintf(stderr, "usage: %s BLOB_DIR\n", argv[0]);
        return 2;
    }
    snprintf(path, sizeof path, "%s/int8.txt", argv[1]);
    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return 2;
    }
    while (fscanf(f, "%255s %lu", name, &n) == 2) {
#ifdef LR_OPS
        if (!ops_compiled_in(argv[1], name)) {
            continue; /* refused, as it must be (ops_compiled_in checked) */
        }
#endif
        run_case(argv[1], name, (size_t)n);
        cases++;
    }
    fclose(f);
    TU_CHECK(cases > 0);
#ifdef LR_OPS
    TU_CHECK(refused > 0);
    printf("op selection LR_OPS: %d models run, %d refused at the first op left out\n", cases, refused);
#endif
    {   /* an fp32 blob: no int8 path, and zero quant */
        size_t size;
        lr_model m;
        int8_t in8[1], out8[1];
        unsigned char arena[64];
        float scale = 1.0f;
        int32_t zp = 1;
        unsigned char *blob;
        snprintf(path, sizeof path, "%s/tiny_dense.lre", argv[1]);
        blob = tu_read_file(path, &size);
#if defined(LR_FP32) && !LR_FP32
        /* an integer-only library (-DLR_FP32=0, `make nofp32-check`): fp32 models are refused */
        TU_CHECK_STATUS(lr_init(&m, blob, size), LR_ERR_UNSUPPORTED_OP);
        (void)arena;
        (void)in8;
        (void)out8;
        (void)scale;
        (void)zp;
        free(blob);
    }
    printf("%d int8 models (integer-only library)\n", cases);
    return tu_report("test_int8");
#else
        TU_CHECK_STATUS(lr_init(&m, blob, size), LR_OK);
        TU_CHECK_STATUS(lr_run_i8(&m, arena, sizeof arena, in8, 1u, out8, 1u), LR_ERR_UNSUPPORTED_OP);
        TU_CHECK_STATUS(lr_input_quant(&m, &scale, &zp), LR_OK);
        TU_CHECK(scale == 0.0f && zp == 0);
        TU_CHECK_STATUS(lr_output_quant_at(&m, 1u, &scale, &zp), LR_ERR_RANGE);
        TU_CHECK_STATUS(lr_input_quant(&m, NULL, &zp), LR_ERR_NULL_ARG);
        free(blob);
    }
    printf("%d int8 models\n", cases);
    return tu_report("test_int8");
#endif
}
