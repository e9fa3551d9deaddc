/*
 * lr_linear_f32_ref.c -- LINEAR as torch.nn.functional.linear: y[o] = sum_i w[o][i] * x[i] + bias[o],
 * summed in order of i from 0. Weights are read in place (fp32, fp16, or int8 dequantized first,
 * w = q * scale[o] in fp32, as the Python reference does).
 */
#include "kernels/lr_kernels.h"

void lr_linear_f32_ref(const float *x, uint32_t in, uint32_t out, const lr_dense_params *p, float *y)
{
    const lr_values w = p->w, scale = p->scale, bias = p->bias;
    const uint32_t n_scale = p->n_scale;
    uint32_t o, i;
    for (o = 0; o < out; o++) {
        float acc = 0.0f;
        if (scale.p != NULL) {
            const float s = lr_value(scale, n_scale == 1u ? 0u : o);
            for (i = 0; i < in; i++) {
                const float wv = lr_value(w, o * in + i) * s;
                acc += wv * x[i];
            }
        } else {
            for (i = 0; i < in; i++) {
                acc += lr_value(w, o * in + i) * x[i];
            }
        }
        y[o] = bias.p != NULL ? acc + lr_value(bias, o) : acc;
    }
}
