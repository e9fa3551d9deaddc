/*
 * kernels_check_workload.c -- the optimised int8 kernels against their references on a Cortex-M core
 * (the DSP/SIMD path on M4, M7, M33; the portable path on M3): the random cases of
 * tests/kernel_cases_s8.h, as the host test test_kernels_s8 runs them. Build with
 * APP_CFLAGS="-I<runtime_c>/src -I<runtime_c>/tests" (tests/test_mcu_kernels.py does).
 * bench_report prints kc_cases=N and the mismatches per kind (kc_conv, kc_linear, kc_linrep, kc_reuse_sizes,
 * kc_add, kc_requant, kc_table, kc_mul, kc_tconv, kc_resize).
 */
#include <stdio.h>

#include "bench.h"
#include "kernel_cases_s8.h"

#ifndef KC_MCU_CASES
#define KC_MCU_CASES 300
#endif

static int fails[3];
static int reuse_fails; /* kc_run_reuse: the reuse kernel at several scratch sizes */
static int small_fails[6]; /* kc_run_small: ADD, the requantisation helper, the activations by table, MUL,
                           * the transposed convs, bilinear RESIZE */

int bench_setup(void)
{
    return 0;
}

int bench_workload(void)
{
    (void)kc_run(12345u, KC_MCU_CASES, fails);
    reuse_fails = kc_run_reuse(777u, KC_MCU_CASES);
    (void)kc_run_small(4242u, KC_MCU_CASES, small_fails);
    return 0;
}

int bench_report(void)
{
    printf("kc_cases=%d\n", KC_MCU_CASES);
    printf("kc_conv=%d\n", fails[0]);
    printf("kc_linear=%d\n", fails[1]);
    printf("kc_linrep=%d\n", fails[2]);
    printf("kc_reuse_sizes=%d\n", reuse_fails);
    printf("kc_add=%d\n", small_fails[0]);
    printf("kc_requant=%d\n", small_fails[1]);
    printf("kc_table=%d\n", small_fails[2]);
    printf("kc_mul=%d\n", small_fails[3]);
    printf("kc_tconv=%d\n", small_fails[4]);
    printf("kc_resize=%d\n", small_fails[5]);
    return 0;
}
