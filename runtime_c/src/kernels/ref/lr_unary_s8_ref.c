/*
 * lr_unary_s8_ref.c -- UNARY of an int8 model (format version 7): the packer tabulated the function for the op's
 * input and output quantisation (TFLite's LUT for its int8 GELU and ELU, docs/INTEGER.md); the output byte is
 * the table's entry at the input byte read as unsigned.
 */
#include "kernels/lr_kernels.h"

void lr_unary_s8_ref(const int8_t *x, uint32_t n, const int8_t *table, int8_t *y)
{
    const uint8_t *u = (const uint8_t *)x;
    uint32_t i;
    for (i = 0; i < n; i++) {
        y[i] = table[u[i]]; /* x may be y: each value read before its output is written */
    }
}
