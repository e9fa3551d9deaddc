/*
 * lr_mul_s8_opt.c -- MUL of an int8 model, optimised (equal to lr_mul_s8_ref bit for bit).
 *
 * The same product (a - zp0) * (b - zp1) per value (|product| <= 255 * 255), LR_MUL_RUN at a time, then the run
 * requantised together by lr_opt_requant_n: for a right shift and a multiplier > 0 (every MUL whose output scale is
 * above s0 * s1 / 2) one 64-bit multiply-add per value with the constants lr_opt_rq_set derives once per op (in
 * assembly on DSP cores), instead of lr_requant's generic steps per value (about 52 instructions per value on
 * Cortex-M4 in the reference, most of them the requantisation); other shifts the reference's arithmetic
 * (lr_opt_requant_any). A gate of one value per channel (squeeze-and-excitation) is offset once per channel, and its
 * product is a single multiply-add: a g + k, g = gate - zp1, k = -zp0 g.
 */
#include "kernels/lr_opt_s8.h"

#define LR_MUL_RUN 32 /* products formed before their requantisation together: 128 bytes of stack */

void lr_mul_s8_opt(const int8_t *a, const int8_t *b, uint32_t c, uint32_t inner, int b_per_channel,
                   const lr_mul_s8_params *p, int8_t *y)
{
    const int32_t zp0 = p->zp0, zp1 = p->zp1;
    int32_t acc[LR_MUL_RUN];
    lr_opt_rq q;
    uint32_t ch, i, j;
    lr_opt_rq_set(&q, p->mult, p->shift, p->zp_out, p->act_min, p->act_max);
    for (ch = 0u; ch < c; ch++) {
        const int8_t *ac = a + (size_t)ch * inner, *bc = b + (b_per_channel ? (size_t)ch : (size_t)ch * inner);
        int8_t *yc = y + (size_t)ch * inner; /* may be ac: a run is read before its outputs are written */
        const int32_t g = (int32_t)bc[0] - zp1, k = -zp0 * g;
        for (i = 0u; i < inner; i += LR_MUL_RUN) {
            const uint32_t n = inner - i < LR_MUL_RUN ? inner - i : LR_MUL_RUN;
            if (b_per_channel) {
                for (j = 0u; j < n; j++) {
                    acc[j] = (int32_t)ac[i + j] * g + k;
                }
            } else {
                for (j = 0u; j < n; j++) {
                    acc[j] = ((int32_t)ac[i + j] - zp0) * ((int32_t)bc[i + j] - zp1);
                }
            }
            lr_opt_requant_run(acc, (int32_t)n, &q, yc + i);
        }
    }
}
