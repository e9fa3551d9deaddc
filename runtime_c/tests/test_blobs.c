/*
 * test_blobs.c -- run the blobs written by gen_test_blobs.py and compare with the torch reference.
 *
 * For each "NAME N" line of DIR/manifest.txt: lr_init(NAME.lre); run the N inputs of NAME.in in an
 * arena of exactly lr_arena_size bytes (heap, so ASan sees any overrun); compare with NAME.ref
 * (|c - r| <= 1e-5 * |r| + 1e-6); check the hook sees every op once, in order; check that every
 * smaller arena is refused and a misaligned one works with LR_ARENA_ALIGN - 1 extra bytes. All of it
 * under each conv path (lr_set_conv_path: AUTO, DIRECT, REUSE), each with its own arena size.
 * Models with several outputs: the sizes of lr_output_size_at add up to lr_output_size (NAME.ref holds
 * the outputs concatenated per input, as lr_run writes them).
 * For each "FILE STATUS" line of DIR/reject.txt (hostile blobs): lr_init returns exactly STATUS.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "linrep.h"
#include "test_util.h"

typedef struct hook_log {
    unsigned calls;
    unsigned next;
    int in_order;
} hook_log;

static void hook(void *ctx, unsigned op_index)
{
    hook_log *h = (hook_log *)ctx;
    if (op_index != h->next) {
        h->in_order = 0;
    }
    h->next = op_index + 1;
    h->calls++;
}

static void run_path(const char *name, lr_model *mp, size_t n, const float *in, const float *ref, lr_conv_path cp);

#if !TU_DIRECT_ON
/* NAME is a line of DIR/LIST (gen_test_blobs.py); at least one line must be there. */
static int listed(const char *dir, const char *list, const char *name)
{
    char path[512], line[128];
    int found = 0, lines = 0;
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, list);
    f = fopen(path, "r");
    TU_CHECK(f != NULL);
    if (f == NULL) {
        return 0;
    }
    while (fscanf(f, "%127s", line) == 1) {
        lines++;
        found |= strcmp(line, name) == 0;
    }
    fclose(f);
    TU_CHECK(lines > 0);
    return found;
}
#endif

static void run_case(const char *dir, const char *name, size_t n)
{
    char path[512];
    size_t size, in_bytes, ref_bytes, in_len = 0, out_len = 0;
    unsigned char *blob;
    float *in, *ref;
    lr_model m;

    snprintf(path, sizeof path, "%s/%s.lre", dir, name);
    blob = tu_read_file(path, &size);
    snprintf(path, sizeof path, "%s/%s.in", dir, name);
    in = (float *)(void *)tu_read_file(path, &in_bytes);
    snprintf(path, sizeof path, "%s/%s.ref", dir, name);
    ref = (float *)(void *)tu_read_file(path, &ref_bytes);

#if !TU_DIRECT_ON
    if (listed(dir, "direct_only.txt", name)) { /* fp32 pruned kernels need the direct path, left out */
        TU_CHECK_STATUS(lr_init(&m, blob, size), LR_ERR_UNSUPPORTED_OP);
        free(in);
        free(ref);
        free(blob);
        return;
    }
#endif
    TU_CHECK_STATUS(lr_init(&m, blob, size), LR_OK);
    TU_CHECK_STATUS(lr_input_size(&m, &in_len), LR_OK);
    TU_CHECK_STATUS(lr_output_size(&m, &out_len), LR_OK);
    {   /* several outputs (format version 3): their sizes add up to lr_output_size, the first is lr_output_shape */
        unsigned count = 0, k, rank = 0, rank0 = 0;
        size_t total = 0, len = 0;
        int32_t dims[LR_MAX_RANK], dims0[LR_MAX_RANK];
        TU_CHECK_STATUS(lr_output_count(&m, &count), LR_OK);
        for (k = 0; k < count; k++) {
            TU_CHECK_STATUS(lr_output_size_at(&m, k, &len), LR_OK);
            total += len;
        }
        TU_CHECK(count >= 1 && total == out_len);
        TU_CHECK_STATUS(lr_output_size_at(&m, count, &len), LR_ERR_RANGE);
        TU_CHECK_STATUS(lr_output_shape(&m, dims0, &rank0), LR_OK);
        TU_CHECK_STATUS(lr_output_shape_at(&m, 0, dims, &rank), LR_OK);
        TU_CHECK(rank == rank0 && memcmp(dims, dims0, rank * sizeof dims[0]) == 0);
    }
    TU_CHECK(in_bytes == n * in_len * sizeof(float));
    TU_CHECK(ref_bytes == n * out_len * sizeof(float));
    if (tu_failures) {
        return;
    }
#if TU_DIRECT_ON
    run_path(name, &m, n, in, ref, LR_PATH_DIRECT);
#endif
#if TU_REUSE_ON
    run_path(name, &m, n, in, ref, LR_PATH_REUSE);
#endif
    run_path(name, &m, n, in, ref, LR_PATH_AUTO);
    tu_check_paths_left_out(&m);
    TU_CHECK_STATUS(lr_set_conv_path(&m, (lr_conv_path)3), LR_ERR_RANGE);
    free(in);
    free(ref);
    free(blob);
}

static void run_path(const char *name, lr_model *mp, size_t n, const float *in, const float *ref, lr_conv_path cp)
{
    size_t in_len = 0, out_len = 0, arena_bytes = 0, lower = 0, i, k;
    unsigned char *arena;
    float *out;
    lr_model m;
    unsigned ops = 0;
    hook_log log;

    TU_CHECK_STATUS(lr_set_conv_path(mp, cp), LR_OK);
    m = *mp; /* copying the struct is allowed */
    TU_CHECK_STATUS(lr_input_size(&m, &in_len), LR_OK);
    TU_CHECK_STATUS(lr_output_size(&m, &out_len), LR_OK);
    TU_CHECK_STATUS(lr_arena_size(&m, &arena_bytes), LR_OK);
    TU_CHECK_STATUS(lr_activation_lower_bound(&m, &lower), LR_OK);
    TU_CHECK_STATUS(lr_op_count(&m, &ops), LR_OK);
    TU_CHECK(lower > 0 && lower <= arena_bytes);
    if (tu_failures) {
        return;
    }
    out = (float *)tu_xmalloc(out_len * sizeof(float));
    arena = (unsigned char *)tu_xmalloc(arena_bytes + LR_ARENA_ALIGN);
    for (k = 0; k < n; k++) {
        memset(&log, 0, sizeof log);
        log.in_order = 1;
        TU_CHECK_STATUS(lr_run_hooked(&m, arena, arena_bytes, in + k * in_len, in_len, out, out_len, hook, &log),
                        LR_OK);
        TU_CHECK(log.calls == ops && log.in_order);
        for (i = 0; i < out_len; i++) {
            float r = ref[k * out_len + i];
            if (!(fabsf(out[i] - r) <= 1e-5f * fabsf(r) + 1e-6f)) {
                fprintf(stderr, "%s image %lu output %lu: C %.9g, torch %.9g\n", name, (unsigned long)k,
                        (unsigned long)i, (double)out[i], (double)r);
                tu_failures++;
                break;
            }
        }
    }
    /* every smaller arena is refused before anything runs */
    for (i = 0; i < arena_bytes; i++) {
        if (lr_run(&m, arena, i, in, in_len, out, out_len) != LR_ERR_ARENA_TOO_SMALL) {
            fprintf(stderr, "%s: arena of %lu < %lu bytes accepted\n", name, (unsigned long)i,
                    (unsigned long)arena_bytes);
            tu_failures++;
            break;
        }
    }
    /* misaligned start (malloc gives 16-byte alignment; +1 is misaligned) */
    TU_CHECK_STATUS(lr_run(&m, arena + 1, arena_bytes + LR_ARENA_ALIGN - 1, in, in_len, out, out_len), LR_OK);
    TU_CHECK(fabsf(out[0] - ref[0]) <= 1e-5f * fabsf(ref[0]) + 1e-6f);
    printf("  %-22s path %d  arena %6lu B  activation lower bound %6lu B  ops %u\n", name, (int)cp,
           (unsigned long)arena_bytes, (unsigned long)lower, ops);
    free(arena);
    free(out);
}

int main(int argc, char **argv)
{
    char path[512], name[128];
    unsigned long n;
    int cases = 0;
    FILE *f;
    if (argc < 2) {
        fprintf(stderr, "usage: test_blobs DIR (with manifest.txt from gen_test_blobs.py)\n");
        return 2;
    }
    snprintf(path, sizeof path, "%s/manifest.txt", argv[1]);
    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return 2;
    }
    while (fscanf(f, "%127s %lu", name, &n) == 2) {
        run_case(argv[1], name, (size_t)n);
        cases++;
    }
    fclose(f);
    TU_CHECK(cases > 0);
    tu_run_rejects(argv[1]);
    return tu_report("test_blobs");
}
