/*
 * test_kernels_s8.c -- the optimised int8 kernels (kernels/opt/) equal their references bit for bit on
 * random shapes (kernel_cases_s8.h): conv (dense, grouped, depthwise, 1x1, strides, dilation,
 * padding), linear, LinRep direct and reuse (with and without a kernel mask), ADD, the requantisation helper,
 * the activations by table, MUL, the transposed convs (dense and LinRep) and bilinear RESIZE. Host: the portable
 * build; `make sanitize` runs it under ASan + UBSan; mcu/kernels_check_workload.c runs the same cases
 * on Cortex-M under QEMU (the DSP path on M4/M7/M33). Argument (ignored): the blobs directory.
 */
#include "test_util.h"
#include "kernel_cases_s8.h"

int main(int argc, char **argv)
{
    int fails[6];
    int bad;
    (void)argc;
    (void)argv;
    bad = kc_run(12345u, 1500, fails);
    printf("test_kernels_s8: 3 x 1500 cases, mismatches conv %d linear %d linrep %d\n", fails[0], fails[1], fails[2]);
    TU_CHECK(bad == 0);
    bad = kc_run_reuse(777u, 1500);
    printf("test_kernels_s8: 1500 reuse cases at the minimum, a random and the default scratch size (opt), the minimum and a random size (ref), mismatches %d\n",
           bad);
    TU_CHECK(bad == 0);
    bad = kc_run_small(4242u, 3000, fails);
    printf("test_kernels_s8: 3000 add, requantisation, activation-table, mul, transposed-conv and resize cases, "
           "mismatches add %d requant %d table %d mul %d tconv %d resize %d\n", fails[0], fails[1], fails[2], fails[3],
           fails[4], fails[5]);
    TU_CHECK(bad == 0);
    return tu_failures ? 1 : 0;
}
