/*
 * model_workload_i8.c -- the Cortex-M workload of an int8 model (format version 4): one inference with
 * lr_run_i8, integers only (the cortex-m3 build has no FPU and, on this path, no soft-float routine:
 * `make -C runtime_c int8-check`).
 *
 * The model comes from a generated header (linrep_edge/runtime/mcu.py, model_header_i8) that defines:
 *   bench_blob[], bench_blob_len         the .lre blob, 16-byte aligned
 *   lr_bench_input_i8[LR_BENCH_INPUT_LEN] one int8 input
 *   LR_BENCH_OUTPUT_LEN, LR_BENCH_ARENA_BYTES, LR_BENCH_CONV_PATH, LR_BENCH_RAM_LIMIT (0: the default)
 *   and optionally bench_plan[BENCH_PLAN_WORDS]  an offline memory plan, taken with lr_set_plan instead
 *                                       of the settings (a runtime built with -DLR_PLANNER=0)
 * bench_setup verifies the blob and plans the arena (once, outside the measured window; its stack, lr_init's
 * and lr_arena_prepare's, is measured as init_stack_bytes), bench_workload
 * runs lr_run_i8_hooked (marking every op for the instruction-count plugin), bench_report prints the
 * int8 outputs so the host can compare them.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "linrep.h"
#include "lr_bench_model.h"

static lr_model model;
static unsigned char arena[LR_BENCH_ARENA_BYTES] __attribute__((aligned(16)));
static int8_t output[LR_BENCH_OUTPUT_LEN];
static unsigned init_stack_bytes;

static void mark_op(void *ctx, unsigned op_index)
{
    (void)ctx;
    lr_bench_mark(op_index);
}

/* lr_init, the settings and lr_arena_prepare: what a firmware does once at boot (its stack is measured). */
static lr_status setup(void)
{
    size_t need = 0;
    lr_status st = lr_init(&model, bench_blob, bench_blob_len);
    if (st != LR_OK) {
        printf("lr_init=%d (%s)\n", (int)st, lr_status_str(st));
        return st;
    }
#if defined(BENCH_PLAN_WORDS)
    st = lr_set_plan(&model, bench_plan, BENCH_PLAN_WORDS); /* the plan fixes the path and the arena */
    if (st != LR_OK) {
        printf("lr_set_plan=%d (%s)\n", (int)st, lr_status_str(st));
        return st;
    }
#else
#if defined(LR_BENCH_CONV_PATH) && LR_BENCH_CONV_PATH != 0
    st = lr_set_conv_path(&model, (lr_conv_path)LR_BENCH_CONV_PATH);
    if (st != LR_OK) {
        printf("lr_set_conv_path=%d (%s)\n", (int)st, lr_status_str(st));
        return st;
    }
#endif
#if defined(LR_BENCH_RAM_LIMIT) && LR_BENCH_RAM_LIMIT != 0
    st = lr_set_ram_limit(&model, (size_t)LR_BENCH_RAM_LIMIT);
    if (st != LR_OK) {
        printf("lr_set_ram_limit=%d (%s)\n", (int)st, lr_status_str(st));
        return st;
    }
#endif
#endif
    st = lr_arena_size(&model, &need);
    if (st != LR_OK || need > sizeof arena) {
        printf("arena: need %u, have %u\n", (unsigned)need, (unsigned)sizeof arena);
        return LR_ERR_ARENA_TOO_SMALL;
    }
    st = lr_arena_prepare(&model, arena, sizeof arena);
    if (st != LR_OK) {
        printf("lr_arena_prepare=%d (%s)\n", (int)st, lr_status_str(st));
    }
    return st;
}

int bench_setup(void)
{
    uintptr_t sp = lr_bench_stack_paint();
    lr_status st = setup();
    init_stack_bytes = (unsigned)lr_bench_stack_used(sp);
    return st == LR_OK ? 0 : 1;
}

int bench_workload(void)
{
    lr_status st = lr_run_i8_hooked(&model, arena, sizeof arena, lr_bench_input_i8, LR_BENCH_INPUT_LEN,
                                    output, LR_BENCH_OUTPUT_LEN, mark_op, NULL);
    return st == LR_OK ? 0 : 1;
}

int bench_report(void)
{
    size_t arena_bytes = 0, lower = 0;
    unsigned i;
    lr_arena_size(&model, &arena_bytes);
    lr_activation_lower_bound(&model, &lower);
    printf("arena_bytes=%u\n", (unsigned)arena_bytes);
    printf("activation_lower_bound_bytes=%u\n", (unsigned)lower);
    printf("init_stack_bytes=%u\n", init_stack_bytes);
    printf("outputs=%u\n", (unsigned)LR_BENCH_OUTPUT_LEN);
    for (i = 0; i < LR_BENCH_OUTPUT_LEN; ++i) {
        printf("out%u=%d\n", i, (int)output[i]);
    }
    return 0;
}
