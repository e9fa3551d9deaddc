/*
 * bench.h -- what a benchmark workload plugs into (runtime_c/mcu).
 *
 * bench_main.c calls, in this order:
 *   bench_setup()     outside the measured window (weak default: returns 0)
 *   lr_bench_begin()  \
 *   bench_workload()   | the measured window: instructions are counted by
 *   lr_bench_end()    /  the QEMU plugin from the entry of lr_bench_begin to
 *                        the entry of lr_bench_end
 *   bench_report()    outside the window, may printf (weak default: returns 0)
 * A workload may call lr_bench_mark(layer) between layers: the plugin then
 * also reports the instructions of each segment between successive marks.
 * Every function returns 0 on success; a non-zero value makes the firmware
 * exit with a non-zero status.
 */
#ifndef LR_MCU_BENCH_H
#define LR_MCU_BENCH_H

#include <stddef.h>
#include <stdint.h>

int bench_setup(void);
int bench_workload(void);
int bench_report(void);

void lr_bench_begin(void);
void lr_bench_end(void);
void lr_bench_mark(unsigned layer);

/* Stack measurement for work outside the window (model set-up): lr_bench_stack_paint fills the
 * free stack below the caller's frame and returns the stack pointer it saw; after the work,
 * lr_bench_stack_used(that value) is the number of bytes of stack used below it. */
uintptr_t lr_bench_stack_paint(void);
size_t lr_bench_stack_used(uintptr_t sp_at_paint);

/* Marks beyond this many are counted by the plugin but their layer ids are
 * not printed by the firmware. */
#define LR_BENCH_MAX_MARKS 256u

#endif
