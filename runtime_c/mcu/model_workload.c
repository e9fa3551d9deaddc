/*
 * model_workload.c -- the Cortex-M bench workload: one inference of a packed model.
 *
 * The model comes from a generated header (see linrep_edge/mcu.py) that defines:
 *   bench_blob[], bench_blob_len         the .lre blob, 16-byte aligned, in flash (`linrep-edge export-c`)
 *   lr_bench_input[LR_BENCH_INPUT_LEN]   one real test input
 *   LR_BENCH_ARENA_BYTES                 the arena size the host runtime asked for
 *   LR_BENCH_CONV_PATH                   lr_conv_path to set after lr_init (0 = AUTO, the default)
 * bench_setup verifies the blob and plans the arena (lr_init, lr_arena_prepare: once at boot, outside
 * the measured window, as a firmware would), bench_workload runs one inference and
 * marks every op for the instruction-count plugin, bench_report prints the outputs as IEEE bit
 * patterns so the host can compare them bit for bit.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "linrep.h"
#include "lr_bench_model.h"

static lr_model model;
static unsigned char arena[LR_BENCH_ARENA_BYTES] __attribute__((aligned(16)));
static float output[LR_BENCH_OUTPUT_LEN];
static lr_status run_status = LR_OK;
static unsigned init_stack_bytes;

static void mark_op(void *ctx, unsigned op_index)
{
    (void)ctx;
    lr_bench_mark(op_index);
}

int bench_setup(void)
{
    uintptr_t sp = lr_bench_stack_paint(); /* lr_init runs once at boot: measure its stack too */
    lr_status st = lr_init(&model, bench_blob, bench_blob_len);
    size_t need = 0;
    init_stack_bytes = (unsigned)lr_bench_stack_used(sp);
    if (st != LR_OK) {
        printf("lr_init=%d (%s)\n", (int)st, lr_status_str(st));
        return 1;
    }
#if defined(LR_BENCH_CONV_PATH) && LR_BENCH_CONV_PATH != 0
    st = lr_set_conv_path(&model, (lr_conv_path)LR_BENCH_CONV_PATH);
    if (st != LR_OK) {
        printf("lr_set_conv_path=%d (%s)\n", (int)st, lr_status_str(st));
        return 1;
    }
#endif
    st = lr_arena_size(&model, &need);
    if (st != LR_OK || need > sizeof arena) {
        printf("arena: need %u, have %u\n", (unsigned)need, (unsigned)sizeof arena);
        return 1;
    }
    st = lr_arena_prepare(&model, arena, sizeof arena);
    if (st != LR_OK) {
        printf("lr_arena_prepare=%d (%s)\n", (int)st, lr_status_str(st));
        return 1;
    }
    return 0;
}

int bench_workload(void)
{
    run_status = lr_run_hooked(&model, arena, sizeof arena, lr_bench_input, LR_BENCH_INPUT_LEN, output,
                               LR_BENCH_OUTPUT_LEN, mark_op, NULL);
    return run_status == LR_OK ? 0 : 1;
}

int bench_report(void)
{
    size_t arena_bytes = 0, lower = 0;
    unsigned i;
    lr_arena_size(&model, &arena_bytes);
    lr_activation_lower_bound(&model, &lower);
    printf("arena_bytes=%u\n", (unsigned)arena_bytes);
    printf("init_stack_bytes=%u\n", init_stack_bytes);
    printf("activation_lower_bound_bytes=%u\n", (unsigned)lower);
    printf("outputs=%u\n", (unsigned)LR_BENCH_OUTPUT_LEN);
    for (i = 0; i < LR_BENCH_OUTPUT_LEN; ++i) {
        uint32_t bits;
        memcpy(&bits, &output[i], sizeof bits);
        printf("out%u=%08lx\n", i, (unsigned long)bits);
    }
    return 0;
}
