/*
 * lr_slice_s8_ref.c -- SLICE of an int8 model: n bytes moved (every tensor quantised alike).
 */
#include "kernels/lr_kernels.h"

void lr_slice_s8_ref(const int8_t *x, uint32_t n, int8_t *y)
{
    memmove(y, x, n);
}
