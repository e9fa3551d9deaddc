/*
 * lr_unary_f32_ref.c -- UNARY (format version 7): GELU (exact and tanh form), ELU / SELU, CELU, Softplus, Mish,
 * LogSigmoid and threshold, (version 8) Hardshrink and Softshrink, (version 9) a scale, element by element, from the runtime's own exp,
 * expm1, tanh, log1p and erfc (lr_math_f32_ref.c: the same bits on every build). Each follows torch's definition:
 * Softplus returns x where beta * x exceeds the threshold; Mish is x tanh(softplus(x)) with softplus's threshold 20;
 * GELU's exact form is x Phi(x) = x erfc(-x / sqrt 2) / 2, its tanh form x / (1 + e^(-2u)) (the same function, without
 * the cancellation of 1 + tanh(u) for negative x).
 */
#include "kernels/lr_kernels.h"
#include "lr_schema.h"

#define LR_SQRT1_2 0.707106781f    /* 1 / sqrt(2) */
#define LR_SQRT2_PI 0.797884561f   /* sqrt(2 / pi) */

/* log(1 + e^z) without overflow: max(z, 0) + log(1 + e^-|z|). */
static float softplus1(float z)
{
    return (z > 0.0f ? z : 0.0f) + lr_log1pf(lr_expf(z > 0.0f ? -z : z));
}

static float unary1(float x, uint32_t fn, float alpha, float beta)
{
    switch (fn) {
    case LR_UNARY_GELU:
        return 0.5f * x * lr_erfcf(-x * LR_SQRT1_2);
    case LR_UNARY_GELU_TANH:
        /* (1 + tanh(u)) / 2 = 1 / (1 + e^-2u): no cancellation where tanh(u) nears -1 */
        return x / (1.0f + lr_expf(-2.0f * LR_SQRT2_PI * (x + 0.044715f * x * x * x)));
    case LR_UNARY_ELU:
        return beta * (x > 0.0f ? x : alpha * lr_expm1f(x));
    case LR_UNARY_CELU:
        return x > 0.0f ? x : alpha * lr_expm1f(x / alpha);
    case LR_UNARY_SOFTPLUS:
        return alpha * x > beta ? x : softplus1(alpha * x) / alpha;
    case LR_UNARY_MISH:
        return x * lr_tanhf(x > 20.0f ? x : softplus1(x));
    case LR_UNARY_LOG_SIGMOID:
        return -softplus1(-x);
    case LR_UNARY_HARDSHRINK: /* (format version 8) */
        return x >= -alpha && x <= alpha ? 0.0f : x;
    case LR_UNARY_SOFTSHRINK: /* (format version 8; verified: alpha >= 0) NaN stays NaN */
        return x > alpha ? x - alpha : x < -alpha ? x + alpha : x != x ? x : 0.0f;
    case LR_UNARY_SCALE: /* (format version 9; verified: alpha finite) */
        return alpha * x;
    default: /* LR_UNARY_THRESHOLD (verified: fn < LR_UNARY_COUNT) */
        return x <= alpha ? beta : x; /* NaN stays NaN, as in torch */
    }
}

void lr_unary_f32_ref(const float *x, uint32_t n, uint32_t fn, float alpha, float beta, float *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        y[i] = unary1(x[i], fn, alpha, beta);
    }
}
