/*
 * lr_conv2d_channel_f32_ref.c -- one output channel of a direct convolution, the core the dense
 * CONV2D and the LinRep direct path share (torch.nn.functional.conv2d, cross-correlation):
 *     y[oy][ox] = sum_i sum_ky sum_kx w[i][ky][kx] * x[i][oy*sh - pt + ky*dh][ox*sw - pl + kx*dw]
 *                 + bias
 * over the cin_g input channels of the group at x, with taps that fall into the padding skipped
 * (not multiplied by zero). Every output element starts from 0, adds its terms in the same order
 * (i, then ky, then kx), then the bias, whatever produced w, so LinRep and dense weights that are
 * equal give bit-identical outputs (and a host and a Cortex-M built with -ffp-contract=off agree).
 *
 * Loop order: for each tap (i, ky, kx) the weight is a scalar and the valid output rows and
 * columns are computed once (no test per tap and pixel); the innermost loop runs over output x,
 * contiguous in y and (stride 1) in x, so compilers vectorise it. (Measured on x86-64 with
 * ResNet-8: fusing the kx taps of a row, register-blocked outputs and flattening rows into one loop
 * were all slower than this plain form.)
 */
#include "kernels/lr_kernels.h"

void lr_conv2d_channel_f32_ref(const lr_geom *g, const float *x, lr_weights w, float bias, float *y,
                               const unsigned char *mask, uint32_t mask_first)
{
    const int32_t plane = g->h * g->w, n_out = g->oh * g->ow;
    int32_t i, ky, kx, oy, j;
    for (j = 0; j < n_out; j++) {
        y[j] = 0.0f;
    }
    for (i = 0; i < g->cin_g; i++) {
        const float *xc = x + i * plane;
        if (!lr_kept(mask, mask_first + (uint32_t)i)) {
            continue; /* a pruned kernel contributes nothing */
        }
        for (ky = 0; ky < g->kh; ky++) {
            const int32_t off_y = ky * g->dh - g->pt;
            const int32_t oy0 = lr_range_lo(off_y, g->sh), oy1 = lr_range_hi(off_y, g->sh, g->h, g->oh);
            if (oy0 >= oy1) {
                continue;
            }
            for (kx = 0; kx < g->kw; kx++) {
                const int32_t off_x = kx * g->dw - g->pl;
                const int32_t ox0 = lr_range_lo(off_x, g->sw), ox1 = lr_range_hi(off_x, g->sw, g->w, g->ow);
                const int32_t tap = (i * g->kh + ky) * g->kw + kx;
                const float wv = w.f != NULL ? w.f[tap] : lr_lef32(w.le + 4 * tap);
                if (ox0 >= ox1) {
                    continue;
                }
                for (oy = oy0; oy < oy1; oy++) {
                    const float *xr = xc + (oy * g->sh + off_y) * g->w + ox0 * g->sw + off_x;
                    lr_row_madd_f32(y + oy * g->ow + ox0, xr, ox1 - ox0, g->sw, wv);
                }
            }
        }
    }
    for (j = 0; j < n_out; j++) {
        y[j] += bias;
    }
}
