/*
 * lr_pixel_shuffle_ref.c -- PIXEL_SHUFFLE (format version 8), fp32 and int8 models alike: the depth side
 * [C r^2, H, W] and the space side [C, H r, W r] hold the same elements; element (c, i, j, h, w) sits at depth
 * channel c r^2 + i r + j (modes 0, 1: torch's pixel_shuffle / pixel_unshuffle order) or (i r + j) C + c (modes 2,
 * 3: TFLite's DEPTH_TO_SPACE / SPACE_TO_DEPTH, ONNX's DCR order), pixel (h, w), and at space pixel (h r + i, w r + j)
 * of channel c. Modes 0 and 2 copy depth to space, 1 and 3 space to depth. Elements are `elem` bytes (an int8
 * model's input and output are quantised alike). Output and input do not overlap.
 */
#include "kernels/lr_kernels.h"

void lr_pixel_shuffle_ref(const void *x, uint32_t c, uint32_t h, uint32_t w, uint32_t r, uint32_t mode, size_t elem,
                          void *y)
{
    const unsigned char *src = (const unsigned char *)x;
    unsigned char *dst = (unsigned char *)y;
    const size_t plane = (size_t)h * w, row = (size_t)w * r; /* a depth plane; a space row */
    const int to_space = (mode & 1u) == 0u;
    uint32_t ch, i, j, hh, ww;
    for (ch = 0; ch < c; ch++) {
        for (i = 0; i < r; i++) {
            for (j = 0; j < r; j++) {
                const size_t k = mode < 2u ? ((size_t)ch * r + i) * r + j : ((size_t)i * r + j) * c + ch;
                for (hh = 0; hh < h; hh++) {
                    const size_t d0 = k * plane + (size_t)hh * w;                              /* depth (k, hh, 0) */
                    const size_t s0 = ((size_t)ch * h * r + (size_t)hh * r + i) * row + j;   /* space (ch, hh r + i, j) */
                    for (ww = 0; ww < w; ww++) {
                        const size_t d = (d0 + ww) * elem, s = (s0 + (size_t)ww * r) * elem;
                        if (to_space) {
                            memcpy(dst + s, src + d, elem);
                        } else {
                            memcpy(dst + d, src + s, elem);
                        }
                    }
                }
            }
        }
    }
}
