/*
 * lr_act.c -- reference kernels for the elementwise ops (activations, ADD) and SOFTMAX, written as
 * torch's CPU kernels compute them. NaN propagates as in torch.
 */
#include <math.h>

#include "lr_internal.h"

/* relu(x) = max(x, 0) */
void lr_relu(const float *x, uint32_t n, float *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
    }
}

/* relu6(x) = min(max(x, 0), 6) */
void lr_relu6(const float *x, uint32_t n, float *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        y[i] = x[i] < 0.0f ? 0.0f : (x[i] > 6.0f ? 6.0f : x[i]);
    }
}

/* leaky_relu(x) = x > 0 ? x : x * alpha */
void lr_leaky_relu(const float *x, uint32_t n, float alpha, float *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        y[i] = x[i] > 0.0f ? x[i] : x[i] * alpha;
    }
}

/* prelu(x) = x > 0 ? x : slope[c] * x; x is [c][inner]; one slope for all channels if n_slopes == 1 */
void lr_prelu(const float *x, uint32_t c, uint32_t inner, lr_values slopes, uint32_t n_slopes, float *y)
{
    uint32_t ch, i;
    for (ch = 0; ch < c; ch++) {
        const float s = lr_value(slopes, n_slopes == 1u ? 0u : ch);
        for (i = 0; i < inner; i++) {
            const float v = x[ch * inner + i];
            y[ch * inner + i] = v > 0.0f ? v : s * v;
        }
    }
}

/* sigmoid(x) = 1 / (1 + exp(-x)) */
void lr_sigmoid(const float *x, uint32_t n, float *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        y[i] = 1.0f / (1.0f + expf(-x[i]));
    }
}

/* hardswish(x) = x * relu6(x + 3) / 6, evaluated as (x * r) / 6 like torch */
void lr_hardswish(const float *x, uint32_t n, float *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        float r = x[i] + 3.0f;
        r = r < 0.0f ? 0.0f : (r > 6.0f ? 6.0f : r);
        y[i] = x[i] * r / 6.0f;
    }
}

/* softmax over n values: exp(x - max) / sum; max first so exp never overflows */
void lr_softmax(const float *x, uint32_t n, float *y)
{
    uint32_t i;
    float mx = x[0], sum = 0.0f;
    for (i = 1; i < n; i++) {
        if (x[i] > mx || x[i] != x[i]) {
            mx = x[i];
        }
    }
    for (i = 0; i < n; i++) {
        y[i] = expf(x[i] - mx);
        sum += y[i];
    }
    for (i = 0; i < n; i++) {
        y[i] /= sum;
    }
}

void lr_add(const float *a, const float *b, uint32_t n, float *y)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        y[i] = a[i] + b[i];
    }
}
