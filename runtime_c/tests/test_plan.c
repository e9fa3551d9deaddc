/*
 * test_plan.c -- offline memory plans (linrep.h: lr_plan_export, lr_set_plan, -DLR_PLANNER=0).
 *
 *   test_plan BLOB_DIR OUT_DIR    built against the full library: for every test model (fp32 manifest.txt,
 *                                 int8 int8.txt) and every conv path, the exported plan is taken by a fresh
 *                                 model, which runs with an arena of the plan's region (never more than the
 *                                 runtime's own) to the same bytes as the runtime's own plan, reports the same
 *                                 path per op, refuses later path and RAM-limit changes, and exports the same
 *                                 plan again; broken plans are refused and leave the model as it was; for int8
 *                                 models, random one-word changes are refused or give the same bytes. Writes
 *                                 each plan and its output to OUT_DIR for the second build.
 *   test_plan BLOB_DIR OUT_DIR    built with -DLR_PLANNER=0: lr_init verifies as the full library (the hostile
 *                                 blobs' statuses), the arena, runs and exports are refused until lr_set_plan,
 *                                 and on the plans of OUT_DIR every model gives the full library's bytes (int8:
 *                                 also the Python reference's).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linrep.h"
#include "test_util.h"

#ifndef LR_PLANNER
#define LR_PLANNER 1
#endif

#if LR_PLANNER
static const lr_conv_path paths[3] = {LR_PATH_AUTO, LR_PATH_DIRECT, LR_PATH_REUSE};
#endif

typedef struct io {
    int int8;
    size_t in_len, out_len;
    void *in, *out;
} io;

static lr_status run_once(const lr_model *m, void *arena, size_t arena_bytes, io *x)
{
    if (x->int8) {
        return lr_run_i8(m, arena, arena_bytes, (const int8_t *)x->in, x->in_len, (int8_t *)x->out, x->out_len);
    }
    return lr_run(m, arena, arena_bytes, (const float *)x->in, x->in_len, (float *)x->out, x->out_len);
}

static size_t out_bytes(const io *x)
{
    return x->out_len * (x->int8 ? 1u : sizeof(float));
}

static void plan_path(const char *out_dir, const char *name, int k, char *path, size_t size)
{
    snprintf(path, size, "%s/%s.%d.plan", out_dir, name, k);
}

#if LR_PLANNER
/* Broken copies of a good plan: each refused, the model unchanged (it then takes the good plan). */
static void check_broken(const unsigned char *blob, size_t size, const uint32_t *good, size_t n, size_t arena_own)
{
    uint32_t *p = (uint32_t *)tu_xmalloc(4u * n);
    lr_model m;
    size_t bytes = 0, t, case_no;
    unsigned ops = 0;
    TU_CHECK_STATUS(lr_init(&m, blob, size), LR_OK);
    TU_CHECK_STATUS(lr_op_count(&m, &ops), LR_OK);
    for (case_no = 0; case_no < 9u; case_no++) {
        size_t len = n;
        const uint32_t n_tensors = good[2];
        uint32_t *slots = p + LR_PLAN_HEAD + n_tensors;
        memcpy(p, good, 4u * n);
        switch (case_no) {
        case 0: len = n - 1u; break;                              /* length */
        case 1: p[0] ^= 1u; break;                                /* magic */
        case 2: p[1] ^= 0x80u; break;                             /* another blob's CRC-32 */
        case 3: p[2] += 1u; break;                                /* tensor count */
        case 4: p[4] += 8u; break;                                /* region misaligned */
        case 5: p[4] = p[4] >= 16u ? p[4] - 16u : 0u; break;      /* region below the top buffer */
        case 6: p[LR_PLAN_HEAD] += 4u; break;                     /* the input's offset misaligned */
        case 7:                                                   /* every tensor at 0: op 0's input and output */
            for (t = 0; t < n_tensors; t++) {
                p[LR_PLAN_HEAD + t] = 0u;
            }
            break;
        default:                                                  /* a scratch past the region, or too big */
            for (t = 0; t < ops; t++) {
                if (slots[2u * t + 1u] != 0u) {
                    slots[2u * t] = p[4];
                    break;
                }
            }
            if (t == ops) {
                slots[1] = 0xFFFFFFF0u; /* no op has scratch: give op 0 more than any kernel takes */
            }
            break;
        }
        if (case_no == 7u && ops == 0u) {
            continue;
        }
        if (lr_set_plan(&m, p, len) != LR_ERR_BAD_PLAN) {
            fprintf(stderr, "broken plan case %lu accepted\n", (unsigned long)case_no);
            tu_failures++;
        }
        TU_CHECK_STATUS(lr_arena_size(&m, &bytes), LR_OK);
        TU_CHECK(bytes == arena_own); /* unchanged: the runtime's own plan */
    }
    if (ops > 0u) { /* the reuse bit on an op other than a LinRep conv: op 0 of a model whose first op is not one */
        unsigned type = 0;
        TU_CHECK_STATUS(lr_op_info(&m, 0, &type, NULL), LR_OK);
        if (type != 1u) { /* LINREP_CONV2D */
            memcpy(p, good, 4u * n);
            p[LR_PLAN_HEAD + good[2] + 2u * ops] |= 1u;
            TU_CHECK_STATUS(lr_set_plan(&m, p, n), LR_ERR_BAD_PLAN);
        }
    }
    TU_CHECK_STATUS(lr_set_plan(&m, good, n), LR_OK);
    TU_CHECK_STATUS(lr_set_plan(NULL, good, n), LR_ERR_NULL_ARG);
    TU_CHECK_STATUS(lr_set_plan(&m, NULL, n), LR_ERR_NULL_ARG);
    free(p);
}

/* An int8 model's kernels are exact whatever scratch and path they get (both LinRep paths give the same bytes):
 * so every plan lr_set_plan accepts must give the runtime's own output. MUTATIONS random changes of one word after
 * the head (a bit flipped, a small offset, or another word's value), each run when accepted in an arena of exactly
 * its size, a canary after it: a checker that let two buffers share bytes, or a scratch land on a live tensor,
 * shows up as a different output here (ASan, in make sanitize, catches the arena's end). */
#define MUTATIONS 300
static void check_mutations(const unsigned char *blob, size_t size, const uint32_t *good, size_t n, io *x,
                            const unsigned char *want, unsigned seed)
{
    uint32_t *p = (uint32_t *)tu_xmalloc(4u * n);
    unsigned state = seed * 2654435761u + 1u, i, taken = 0;
    for (i = 0; i < MUTATIONS; i++) {
        const unsigned r = tu_rand(&state), w = LR_PLAN_HEAD + r % (unsigned)(n - LR_PLAN_HEAD);
        lr_model m;
        size_t need = 0;
        memcpy(p, good, 4u * n);
        switch ((r >> 24) % 3u) {
        case 0: p[w] ^= 1u << ((r >> 8) & 31u); break;
        case 1: p[w] += 16u * (((r >> 8) & 7u) + 1u); break;
        default: p[w] = good[LR_PLAN_HEAD + (r >> 8) % (unsigned)(n - LR_PLAN_HEAD)]; break;
        }
        if (lr_init(&m, blob, size) != LR_OK || lr_set_plan(&m, p, n) != LR_OK) {
            continue;
        }
        taken++;
        TU_CHECK_STATUS(lr_arena_size(&m, &need), LR_OK);
        {
            unsigned char *arena = (unsigned char *)tu_xmalloc(need + 16u);
            memset(arena + need, 0xA5, 16u);
            memset(x->out, 0, out_bytes(x));
            TU_CHECK_STATUS(run_once(&m, arena, need, x), LR_OK);
            if (memcmp(x->out, want, out_bytes(x)) != 0 || arena[need] != 0xA5u || arena[need + 15u] != 0xA5u) {
                fprintf(stderr, "accepted plan (word %u changed) gives another output or writes past its arena\n", w);
                tu_failures++;
            }
            free(arena);
        }
    }
    TU_CHECK(taken > 0u); /* some changes keep a valid plan (unused scratch sizes, free space): they must run */
    free(p);
}
#endif

#if !LR_PLANNER
/* The plan's words in a file of plan + output bytes. */
static size_t plan_words_of_file(size_t file_bytes, size_t output_bytes)
{
    return (file_bytes - output_bytes) / 4u;
}
#endif

static void run_model(const char *dir, const char *out_dir, const char *name, int int8)
{
    char path[512];
    size_t size, got, in_bytes;
    unsigned char *blob;
    unsigned char *ref = NULL;
    io x;
    lr_model m;
    int k;

    snprintf(path, sizeof path, "%s/%s.lre", dir, name);
    blob = tu_read_file(path, &size);
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, int8 ? "in8" : "in");
    x.in = tu_read_file(path, &in_bytes);
    if (int8) {
        snprintf(path, sizeof path, "%s/%s.ref8", dir, name);
        ref = tu_read_file(path, &got);
    }
    x.int8 = int8;
    if (lr_init(&m, blob, size) != LR_OK) { /* e.g. fp32 pruned kernels in a build without the direct path */
        fprintf(stderr, "%s: lr_init failed\n", name);
        tu_failures++;
        return;
    }
    TU_CHECK_STATUS(lr_input_size(&m, &x.in_len), LR_OK);
    TU_CHECK_STATUS(lr_output_size(&m, &x.out_len), LR_OK);
    x.out = tu_xmalloc(out_bytes(&x));
    for (k = 0; k < 3; k++) {
        size_t n = 0, arena_bytes = 0;
        uint32_t *plan;
        unsigned char *arena;
#if LR_PLANNER
        lr_model own;
        size_t own_bytes = 0, again_n = 0;
        unsigned char *own_out;
        uint32_t *again;
        unsigned op, ops = 0;
        FILE *f;
        if (lr_init(&own, blob, size) != LR_OK || lr_set_conv_path(&own, paths[k]) != LR_OK) {
            continue; /* a path this model or build cannot take */
        }
        TU_CHECK_STATUS(lr_arena_size(&own, &own_bytes), LR_OK);
        arena = (unsigned char *)tu_xmalloc(own_bytes);
        TU_CHECK_STATUS(run_once(&own, arena, own_bytes, &x), LR_OK);
        own_out = (unsigned char *)tu_xmalloc(out_bytes(&x));
        memcpy(own_out, x.out, out_bytes(&x));
        TU_CHECK_STATUS(lr_plan_export(&own, NULL, 0, NULL, 0, &n), LR_OK); /* the size first */
        plan = (uint32_t *)tu_xmalloc(4u * n);
        TU_CHECK_STATUS(lr_plan_export(&own, arena, own_bytes, plan, n - 1u, &n), LR_ERR_RANGE);
        TU_CHECK_STATUS(lr_plan_export(&own, arena, own_bytes - 1u, plan, n, &n), LR_ERR_ARENA_TOO_SMALL);
        TU_CHECK_STATUS(lr_plan_export(&own, arena, own_bytes, plan, n, &n), LR_OK);
        free(arena);
        TU_CHECK(plan[0] == LR_PLAN_MAGIC && plan[4] <= own_bytes);
        /* a fresh model on the plan: the same bytes, the same paths, an arena of the plan's region */
        TU_CHECK_STATUS(lr_init(&m, blob, size), LR_OK);
        TU_CHECK_STATUS(lr_set_plan(&m, plan, n), LR_OK);
        TU_CHECK_STATUS(lr_arena_size(&m, &arena_bytes), LR_OK);
        TU_CHECK(arena_bytes == plan[4]);
        arena = (unsigned char *)tu_xmalloc(arena_bytes + 1u);
        memset(x.out, 0x55, out_bytes(&x));
        TU_CHECK_STATUS(lr_arena_prepare(&m, arena, arena_bytes), LR_OK);
        TU_CHECK_STATUS(run_once(&m, arena, arena_bytes, &x), LR_OK);
        if (memcmp(x.out, own_out, out_bytes(&x)) != 0) {
            fprintf(stderr, "%s: path %d: the offline plan's output differs from the runtime's plan\n", name, k);
            tu_failures++;
        }
        TU_CHECK_STATUS(run_once(&m, arena, arena_bytes - 1u, &x), LR_ERR_ARENA_TOO_SMALL);
        TU_CHECK_STATUS(lr_op_count(&m, &ops), LR_OK);
        for (op = 0; op < ops; op++) {
            lr_conv_cost a, b;
            TU_CHECK_STATUS(lr_op_conv_info(&own, op, &a), LR_OK);
            TU_CHECK_STATUS(lr_op_conv_info(&m, op, &b), LR_OK);
            TU_CHECK(a.path == b.path);
        }
        TU_CHECK_STATUS(lr_set_conv_path(&m, LR_PATH_DIRECT), LR_ERR_UNSUPPORTED_OP);
        TU_CHECK_STATUS(lr_set_ram_limit(&m, 1u << 20), LR_ERR_UNSUPPORTED_OP);
        again = (uint32_t *)tu_xmalloc(4u * n);
        TU_CHECK_STATUS(lr_plan_export(&m, arena, arena_bytes, again, n, &again_n), LR_OK);
        TU_CHECK(again_n == n && memcmp(again, plan, 4u * n) == 0);
        if (k == 0) {
            check_broken(blob, size, plan, n, own_bytes);
        }
        if (int8) {
            check_mutations(blob, size, plan, n, &x, own_out, (unsigned)(size + (size_t)k));
        }
        plan_path(out_dir, name, k, path, sizeof path); /* for the -DLR_PLANNER=0 build */
        f = fopen(path, "wb");
        TU_CHECK(f != NULL && fwrite(plan, 4u, n, f) == n && fwrite(own_out, 1u, out_bytes(&x), f) == out_bytes(&x));
        if (f != NULL) {
            fclose(f);
        }
        free(again);
        free(own_out);
#else
        unsigned char *file;
        size_t file_bytes = 0;
        FILE *f;
        plan_path(out_dir, name, k, path, sizeof path);
        f = fopen(path, "rb");
        if (f == NULL) {
            continue; /* the full build had no plan for this path */
        }
        fclose(f);
        file = tu_read_file(path, &file_bytes);
        n = plan_words_of_file(file_bytes, out_bytes(&x));
        plan = (uint32_t *)(void *)file;
        TU_CHECK_STATUS(lr_init(&m, blob, size), LR_OK);
        /* before a plan: no arena, no run, no export, no path or RAM setting */
        arena = (unsigned char *)tu_xmalloc(plan[4] + 1u);
        TU_CHECK_STATUS(lr_arena_size(&m, &arena_bytes), LR_ERR_BAD_PLAN);
        TU_CHECK_STATUS(lr_arena_prepare(&m, arena, plan[4]), LR_ERR_BAD_PLAN);
        TU_CHECK_STATUS(run_once(&m, arena, plan[4], &x), LR_ERR_BAD_PLAN);
        TU_CHECK_STATUS(lr_plan_export(&m, NULL, 0, NULL, 0, &arena_bytes), LR_ERR_UNSUPPORTED_OP);
        TU_CHECK_STATUS(lr_set_conv_path(&m, LR_PATH_AUTO), LR_ERR_UNSUPPORTED_OP);
        TU_CHECK_STATUS(lr_set_ram_limit(&m, 0), LR_ERR_UNSUPPORTED_OP);
        TU_CHECK_STATUS(lr_activation_lower_bound(&m, &arena_bytes), LR_OK);
        TU_CHECK(arena_bytes > 0u);
        TU_CHECK_STATUS(lr_set_plan(&m, plan, n), LR_OK);
        TU_CHECK_STATUS(lr_arena_size(&m, &arena_bytes), LR_OK);
        TU_CHECK(arena_bytes == plan[4]);
        TU_CHECK_STATUS(run_once(&m, arena, arena_bytes, &x), LR_OK);
        if (memcmp(x.out, file + 4u * n, out_bytes(&x)) != 0 || (ref != NULL && memcmp(x.out, ref, x.out_len) != 0)) {
            fprintf(stderr, "%s: path %d: output differs from the full library's (or the Python reference)\n", name, k);
            tu_failures++;
        }
#endif
        free(arena);
        free(plan);
    }
    free(x.out);
    free(x.in);
    free(ref);
    free(blob);
}

static int run_list(const char *dir, const char *out_dir, const char *list, int int8)
{
    char path[512], name[256];
    unsigned long n;
    int cases = 0;
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, list);
    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        tu_failures++;
        return 0;
    }
    while (fscanf(f, "%255s %lu", name, &n) == 2) {
        run_model(dir, out_dir, name, int8);
        cases++;
    }
    fclose(f);
    return cases;
}

int main(int argc, char **argv)
{
    int fp32, i8;
    if (argc != 3) {
        fprintf(stderr, "usage: %s BLOB_DIR PLAN_DIR\n", argv[0]);
        return 2;
    }
    fp32 = run_list(argv[1], argv[2], "manifest.txt", 0);
    i8 = run_list(argv[1], argv[2], "int8.txt", 1);
    TU_CHECK(fp32 > 0 && i8 > 0);
#if LR_PLANNER
    printf("  %d fp32 and %d int8 models: offline plans exported, taken and run to the same bytes\n", fp32, i8);
    return tu_report("test_plan");
#else
    tu_run_rejects(argv[1]); /* lr_init without the planner still checks the graph */
    printf("  %d fp32 and %d int8 models on offline plans without the planner (-DLR_PLANNER=0)\n", fp32, i8);
    return tu_report("test_plan (-DLR_PLANNER=0)");
#endif
}
