/*
 * lr_table_s8_opt.c -- the int8 elementwise activations by table (equal to their references bit for bit).
 *
 * SIGMOID, TANH, HARDSWISH, HARDSIGMOID, SILU, LEAKY_RELU, a standalone RELU / RELU6 / CLAMP and a PRELU with one
 * slope are each a function of the input byte alone (one scale and zero point per tensor); PRELU with a slope per
 * channel, MUL by a gate of one value per channel and AFFINE are one such function per channel. The run path
 * (lr_run.c, kind LR_OPT_ACT) writes the 256 int8s into 256 bytes of the op's scratch, runs the op's reference
 * kernel on them in place (with one channel's constants for a per-channel op), so that byte v of the table is the
 * reference's output for the input byte v, and then maps the tensor (the channel) through the table here: one byte
 * load, one table load and one store per value (HARDSWISH's reference takes about 20 instructions per value on
 * Cortex-M4, MUL's 13, SIGMOID's more). Equal to the reference by construction; the table costs the reference on
 * 256 values, so the run path takes it from LR_ACT_S8_TAB_MIN values (per channel) on.
 */
#include "kernels/lr_opt_s8.h"

void lr_table_s8_opt(const int8_t *x, uint32_t n, const int8_t *table, int8_t *y)
{
    const uint8_t *u = (const uint8_t *)x;
    uint32_t i = 0u;
    for (; i + 4u <= n; i += 4u) { /* four at a time: each value read before its output is written (x may be y) */
        const uint8_t a = u[i], b = u[i + 1u], c = u[i + 2u], d = u[i + 3u];
        y[i] = table[a];
        y[i + 1u] = table[b];
        y[i + 2u] = table[c];
        y[i + 3u] = table[d];
    }
    for (; i < n; i++) {
        y[i] = table[u[i]];
    }
}
