/*
 * lr_channel_shuffle_ref.c -- CHANNEL_SHUFFLE of [C, H, W] with g groups (g divides C), fp32 and int8 models
 * alike: the channels seen as g rows of C / g, read column by column (torch's view(g, C/g).transpose(0, 1));
 * output channel j * g + i is input channel i * (C / g) + j, each a contiguous plane of `plane` bytes (H * W
 * elements; an int8 model's tensors are quantised alike). Output and input do not overlap.
 */
#include "kernels/lr_kernels.h"

void lr_channel_shuffle_ref(const void *x, uint32_t c, uint32_t groups, size_t plane, void *y)
{
    const uint32_t per = c / groups;
    const unsigned char *src = (const unsigned char *)x;
    unsigned char *dst = (unsigned char *)y;
    uint32_t i, j;
    for (j = 0; j < per; j++) {
        for (i = 0; i < groups; i++) {
            memcpy(dst + ((size_t)j * groups + i) * plane, src + ((size_t)i * per + j) * plane, plane);
        }
    }
}
