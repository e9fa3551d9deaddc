/*
 * bench_main.c -- benchmark harness for one workload under QEMU.
 *
 * Paints the unused stack, runs bench_workload() between the marker
 * functions lr_bench_begin()/lr_bench_end() (whose entry addresses the QEMU
 * icount plugin watches), then prints key=value lines over semihosting:
 *   workload_rc=N            bench_workload()'s return value
 *   stack_painted_bytes=N    stack used by the workload, from the SP at the
 *                            call down to the lowest word it overwrote
 *   stack_depth_bytes=N      same low-water mark, from the top of the stack
 *   stack_size_bytes=N       size of the stack region (linker script)
 *   heap_workload_bytes=N    _sbrk growth during the workload (0 expected)
 *   marks=N                  calls of lr_bench_mark() in the window
 *   mark_layers=a,b,...      their layer arguments, in order
 * and exits with 0 when setup, workload and report all returned 0.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "mcu_support.h"

#define STACK_PAINT 0xC5A5C5A5u

extern uint32_t __stack_limit__[];
extern uint32_t __stack_top__[];

static volatile unsigned lr_mark_count;
static volatile unsigned lr_mark_layers[LR_BENCH_MAX_MARKS];

/* Markers: never inlined, never cloned or merged (noipa), kept (used). The
 * bodies differ so that identical-code folding cannot alias them. */
__attribute__((noinline, noipa, used)) void lr_bench_begin(void)
{
    lr_mark_count = 0u;
    __asm__ volatile("" : : : "memory");
}

__attribute__((noinline, noipa, used)) void lr_bench_end(void)
{
    __asm__ volatile("nop" : : : "memory");
}

__attribute__((noinline, noipa, used)) void lr_bench_mark(unsigned layer)
{
    unsigned n = lr_mark_count;
    if (n < LR_BENCH_MAX_MARKS) {
        lr_mark_layers[n] = layer;
    }
    lr_mark_count = n + 1u;
    __asm__ volatile("" : : : "memory");
}

__attribute__((weak)) int bench_setup(void)
{
    return 0;
}

__attribute__((weak)) int bench_report(void)
{
    return 0;
}

static inline uintptr_t current_sp(void)
{
    uintptr_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return sp;
}

/* Fill [__stack_limit__, own SP) with the pattern.  A leaf with a volatile
 * store loop: it calls nothing (no memset) and so never writes below its SP
 * except through the loop itself. */
__attribute__((noinline)) static void stack_paint(void)
{
    volatile uint32_t *p = __stack_limit__;
    volatile uint32_t *const stop = (volatile uint32_t *)(current_sp() & ~(uintptr_t)3u);
    while (p < stop) {
        *p++ = STACK_PAINT;
    }
}

/* Lowest stack address whose paint was overwritten. */
static uintptr_t stack_low_water(void)
{
    const volatile uint32_t *p = __stack_limit__;
    while (p < (const volatile uint32_t *)__stack_top__ && *p == STACK_PAINT) {
        ++p;
    }
    return (uintptr_t)p;
}

uintptr_t lr_bench_stack_paint(void)
{
    uintptr_t sp = current_sp();
    stack_paint();
    return sp;
}

size_t lr_bench_stack_used(uintptr_t sp_at_paint)
{
    uintptr_t low = stack_low_water();
    return sp_at_paint > low ? (size_t)(sp_at_paint - low) : 0u;
}

static void print_marks(void)
{
    unsigned n = lr_mark_count;
    unsigned shown = n < LR_BENCH_MAX_MARKS ? n : LR_BENCH_MAX_MARKS;
    unsigned i;
    printf("marks=%u\n", n);
    printf("mark_layers=");
    for (i = 0; i < shown; ++i) {
        printf(i == 0 ? "%u" : ",%u", lr_mark_layers[i]);
    }
    printf("\n");
}

int main(void)
{
    int setup_rc;
    int work_rc;
    int report_rc;
    uintptr_t sp_at_call;
    uintptr_t low;
    size_t heap_before;
    size_t heap_after;

    setup_rc = bench_setup();
    if (setup_rc != 0) {
        printf("bench_setup_rc=%d\n", setup_rc);
        return 2;
    }
    fflush(stdout);

    stack_paint();
    heap_before = mcu_heap_used();
    sp_at_call = current_sp();
    lr_bench_begin();
    work_rc = bench_workload();
    lr_bench_end();
    low = stack_low_water();
    heap_after = mcu_heap_used();

    printf("workload_rc=%d\n", work_rc);
    printf("stack_painted_bytes=%lu\n", (unsigned long)(sp_at_call > low ? sp_at_call - low : 0u));
    printf("stack_depth_bytes=%lu\n", (unsigned long)((uintptr_t)__stack_top__ - low));
    printf("stack_size_bytes=%lu\n",
           (unsigned long)((uintptr_t)__stack_top__ - (uintptr_t)__stack_limit__));
    if (low <= (uintptr_t)__stack_limit__) {
        printf("stack_overflow=1\n");
    }
    printf("heap_workload_bytes=%lu\n", (unsigned long)(heap_after - heap_before));
    print_marks();

    report_rc = bench_report();
    printf("bench_report_rc=%d\n", report_rc);
    fflush(stdout);
    if (work_rc != 0) {
        return 1;
    }
    return report_rc != 0 ? 3 : 0;
}
