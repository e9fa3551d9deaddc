/*
 * lr_fixedpoint_ref.c -- gemmlowp's fixed-point transcendental functions, shared by the int8 SOFTMAX,
 * SIGMOID and TANH kernels (docs/INTEGER.md sections 4 and 6; linrep_edge/integer/arith.py is the same in
 * numpy). A Qm.(31-m) number is an int32 raw value r meaning r / 2^(31-m). Every operation is int32
 * (int64 inside lr_srdhm); no input makes one overflow.
 */
#include "kernels/lr_kernels.h"

int32_t lr_sat_shl(int32_t x, int32_t e)
{
    const int32_t threshold = (int32_t)(((int64_t)1 << (31 - e)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((int64_t)x * ((int64_t)1 << e));
}

/* exp(a) for a in [-1/4, 0), Q0.31 in and out: a Taylor series around -1/8. */
static int32_t exp_quarter(int32_t a)
{
    const int32_t constant_term = 1895147668, one_third = 715827883;
    const int32_t x = a + (1 << 28); /* a + 1/8 */
    const int32_t x2 = lr_srdhm(x, x), x3 = lr_srdhm(x2, x), x4 = lr_srdhm(x2, x2);
    const int32_t x4_over_4 = lr_rdbpot(x4, 2);
    const int32_t poly = lr_rdbpot(lr_srdhm(x4_over_4 + x3, one_third) + x2, 1);
    return constant_term + lr_srdhm(constant_term, x + poly);
}

int32_t lr_exp_on_negative_values(int32_t a, int32_t integer_bits)
{
    /* exp(-2^k) in Q0.31 for k = -2 .. 4 (gemmlowp's barrel shifter) */
    static const int32_t mult[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int32_t frac_bits = 31 - integer_bits;
    const int32_t quarter = (int32_t)1 << (frac_bits - 2), mask = quarter - 1;
    const int32_t a_mod = (int32_t)((uint32_t)a & (uint32_t)mask) - quarter; /* (a mod 1/4) - 1/4 */
    const int32_t remainder = a_mod - a;                                      /* >= 0, a multiple of 1/4 */
    int32_t result = exp_quarter(lr_sat_shl(a_mod, integer_bits)), k;
    for (k = 0; k < 7 && k - 2 < integer_bits; k++) { /* exponent k - 2: bit frac_bits + k - 2 */
        if (((uint32_t)remainder >> (frac_bits + k - 2)) & 1u) {
            result = lr_srdhm(result, mult[k]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* 2 / (1 + x) in Q2.29 for x in [0, 1) Q0.31: hd = (1 + x) / 2 (RoundingHalfSum with one), 48/17 - 32/17 hd,
 * then three Newton-Raphson steps. */
static int32_t two_over_one_plus_x(int32_t a)
{
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_den = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int32_t x = 1515870810 + lr_srdhm(half_den, -1010580540), i;
    for (i = 0; i < 3; i++) {
        const int32_t one_minus = (1 << 29) - lr_srdhm(half_den, x);
        x = x + lr_sat_shl(lr_srdhm(x, one_minus), 2);
    }
    return x;
}

int32_t lr_one_over_one_plus_x(int32_t a)
{
    return lr_sat_shl(two_over_one_plus_x(a), 1);
}

int32_t lr_one_minus_x_over_one_plus_x(int32_t a)
{
    return lr_sat_shl(two_over_one_plus_x(a) - (1 << 29), 2);
}

int32_t lr_logistic_q31(int32_t a, int32_t integer_bits)
{
    int32_t pos;
    if (a == 0) {
        return 1 << 30; /* one half */
    }
    pos = lr_one_over_one_plus_x(lr_exp_on_negative_values(a > 0 ? -a : a, integer_bits));
    return a > 0 ? pos : INT32_MAX - pos;
}

int32_t lr_tanh_q31(int32_t a, int32_t integer_bits)
{
    int32_t t;
    if (a == 0) {
        return 0;
    }
    t = lr_one_minus_x_over_one_plus_x(lr_exp_on_negative_values(a > 0 ? -a : a, integer_bits + 1));
    return a < 0 ? -t : t;
}
