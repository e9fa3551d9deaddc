/*
 * lr_pad_edge_ref.c -- PAD of [c][h][w] by g->pt, pl, pb, pr with the border taken from the input (format version 6,
 * fp32 and int8 models alike: elements of `elem` bytes moved, an int8 model's tensors quantised alike).
 * mode 1 reflects about the edge without repeating it (torch's "reflect": row -1 is row 1; every pad < the
 * size along its axis, verified); mode 2 repeats the edge (torch's "replicate": row -1 is row 0).
 */
#include "kernels/lr_kernels.h"

/* The input index an output index i - pad maps to, along an axis of n >= 1. */
static int32_t source(int32_t i, int32_t n, uint32_t mode)
{
    if (i < 0) {
        return mode == 1u ? -i : 0;
    }
    if (i >= n) {
        return mode == 1u ? 2 * (n - 1) - i : n - 1;
    }
    return i;
}

void lr_pad_edge_ref(const lr_geom *g, uint32_t mode, const void *x, size_t elem, void *y)
{
    const unsigned char *src = (const unsigned char *)x;
    unsigned char *dst = (unsigned char *)y;
    int32_t ch, r, j;
    for (ch = 0; ch < g->c; ch++) {
        const unsigned char *xc = src + (size_t)ch * (size_t)g->h * (size_t)g->w * elem;
        unsigned char *yc = dst + (size_t)ch * (size_t)g->oh * (size_t)g->ow * elem;
        for (r = 0; r < g->oh; r++) {
            const unsigned char *in = xc + (size_t)source(r - g->pt, g->h, mode) * (size_t)g->w * elem;
            unsigned char *row = yc + (size_t)r * (size_t)g->ow * elem;
            for (j = 0; j < g->pl; j++) {
                memcpy(row + (size_t)j * elem, in + (size_t)source(j - g->pl, g->w, mode) * elem, elem);
            }
            memcpy(row + (size_t)g->pl * elem, in, (size_t)g->w * elem);
            for (j = g->pl + g->w; j < g->ow; j++) {
                memcpy(row + (size_t)j * elem, in + (size_t)source(j - g->pl, g->w, mode) * elem, elem);
            }
        }
    }
}
