/*
 * bench_run.c -- time lr_run on a blob file: bench_run BLOB [RUNS]
 * Prints the arena size, the activation lower bound and the mean time per run (host clock).
 * Not a test; built by `make bench`.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "linrep.h"
#include "test_util.h"

int main(int argc, char **argv)
{
    size_t size = 0, arena_bytes = 0, lower = 0, in_len = 0, out_len = 0, i;
    unsigned char *blob;
    lr_model m;
    lr_status s;
    float *in, *out;
    void *arena;
    long runs = argc > 2 ? atol(argv[2]) : 200, r;
    struct timespec t0, t1;
    double sec;
    if (argc < 2) {
        fprintf(stderr, "usage: bench_run BLOB [RUNS]\n");
        return 2;
    }
    blob = tu_read_file(argv[1], &size);
    s = lr_init(&m, blob, size);
    if (s != LR_OK) {
        fprintf(stderr, "lr_init: %s\n", lr_status_str(s));
        return 1;
    }
    lr_arena_size(&m, &arena_bytes);
    lr_activation_lower_bound(&m, &lower);
    lr_input_size(&m, &in_len);
    lr_output_size(&m, &out_len);
    arena = tu_xmalloc(arena_bytes);
    in = (float *)tu_xmalloc(in_len * sizeof(float));
    out = (float *)tu_xmalloc(out_len * sizeof(float));
    for (i = 0; i < in_len; i++) {
        in[i] = (float)(i % 17) / 17.0f;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (r = 0; r < runs; r++) {
        s = lr_run(&m, arena, arena_bytes, in, in_len, out, out_len);
        if (s != LR_OK) {
            fprintf(stderr, "lr_run: %s\n", lr_status_str(s));
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("blob %lu bytes, arena %lu bytes, activation lower bound %lu bytes, %.3f ms/run\n",
           (unsigned long)size, (unsigned long)arena_bytes, (unsigned long)lower, 1e3 * sec / (double)runs);
    free(arena);
    free(in);
    free(out);
    free(blob);
    return 0;
}
