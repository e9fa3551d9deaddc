/*
 * test_noint8.c -- a library built with -DLR_INT8=0 (`make noint8-check`): int8 models are refused by
 * lr_init with LR_ERR_UNSUPPORTED_OP, lr_run_i8 refuses every model, fp32 models run as before.
 * Usage: test_noint8 BLOB_DIR (the blobs of gen_test_blobs.py).
 */
#include <stdio.h>

#include "linrep.h"
#include "test_util.h"

int main(int argc, char **argv)
{
    char path[512];
    size_t size, arena_bytes = 0, n_in = 0, n_out = 0;
    unsigned char *blob;
    lr_model m;
    if (argc != 2) {
        fprintf(stderr, "usage: %s BLOB_DIR\n", argv[0]);
        return 2;
    }
    snprintf(path, sizeof path, "%s/i8_chain_0.lre", argv[1]);
    blob = tu_read_file(path, &size);
    TU_CHECK_STATUS(lr_init(&m, blob, size), LR_ERR_UNSUPPORTED_OP);
    free(blob);
    snprintf(path, sizeof path, "%s/tiny_dense.lre", argv[1]);
    blob = tu_read_file(path, &size);
    TU_CHECK_STATUS(lr_init(&m, blob, size), LR_OK);
    TU_CHECK_STATUS(lr_arena_size(&m, &arena_bytes), LR_OK);
    TU_CHECK_STATUS(lr_input_size(&m, &n_in), LR_OK);
    TU_CHECK_STATUS(lr_output_size(&m, &n_out), LR_OK);
    {
        unsigned char *arena = (unsigned char *)tu_xmalloc(arena_bytes);
        float *in = (float *)tu_xmalloc(n_in * sizeof(float));
        float *out = (float *)tu_xmalloc(n_out * sizeof(float));
        size_t i;
        for (i = 0; i < n_in; i++) {
            in[i] = 0.25f;
        }
        TU_CHECK_STATUS(lr_run(&m, arena, arena_bytes, in, n_in, out, n_out), LR_OK);
        TU_CHECK_STATUS(lr_run_i8(&m, arena, arena_bytes, (const int8_t *)(const void *)in, n_in,
                                  (int8_t *)(void *)out, n_out), LR_ERR_UNSUPPORTED_OP);
        free(arena);
        free(in);
        free(out);
    }
    free(blob);
    return tu_report("test_noint8");
}
