/*
 * fuzz_verify_run.c -- libFuzzer target: lr_init on arbitrary bytes, and lr_run whenever a blob is
 * accepted. Built with clang -fsanitize=fuzzer,address,undefined by `make fuzz`.
 *
 * Random mutations almost never keep the CRC-32 right, which would stop every input at the CRC
 * check; so before lr_init the harness recomputes the CRC when it can find the crc32 field with a
 * bounds-checked walk (root offset -> vtable -> slot 0). The blob is copied into an exact-size heap
 * buffer so that a single byte of over-read is reported by ASan. An accepted blob also runs on its exported
 * offline plan, and on that plan with one bit flipped whenever lr_set_plan takes it (lr_plan_check.c's rules
 * must keep every run inside its arena).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lr_internal.h"

#define MAX_ARENA (64u << 20) /* runs needing more are skipped, not failures */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Patch the crc32 field (Model slot 0) of buf[0..size) if it can be located inside the buffer. */
static void fix_crc(uint8_t *buf, size_t size)
{
    uint32_t root, vt, vsize, fo, pos, crc;
    int64_t v;
    static const unsigned char zeros[4] = {0, 0, 0, 0};
    if (size < 8u || size > 0x7FFFFFF0u) {
        return;
    }
    root = le32(buf);
    if ((uint64_t)root + 4u > size) {
        return;
    }
    v = (int64_t)root - (int64_t)lr_as_i32(le32(buf + root));
    if (v < 0 || (uint64_t)v + 6u > size) {
        return;
    }
    vt = (uint32_t)v;
    vsize = (uint32_t)buf[vt] | ((uint32_t)buf[vt + 1u] << 8);
    if (vsize < 6u) {
        return;
    }
    fo = (uint32_t)buf[vt + 4u] | ((uint32_t)buf[vt + 5u] << 8);
    pos = root + fo;
    if (fo == 0u || (uint64_t)pos + 4u > size) {
        return;
    }
    crc = lr_crc32_update(0u, buf, pos);
    crc = lr_crc32_update(crc, zeros, 4u);
    crc = lr_crc32_update(crc, buf + pos + 4u, size - pos - 4u);
    buf[pos] = (uint8_t)crc;
    buf[pos + 1u] = (uint8_t)(crc >> 8);
    buf[pos + 2u] = (uint8_t)(crc >> 16);
    buf[pos + 3u] = (uint8_t)(crc >> 24);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *blob = (uint8_t *)malloc(size ? size : 1u);
    lr_model m;
    size_t arena_bytes = 0, n_in = 0, n_out = 0;
    if (blob == NULL) {
        return 0;
    }
    if (size) {
        memcpy(blob, data, size);
    }
    fix_crc(blob, size);
    if (lr_init(&m, blob, size) == LR_OK && lr_arena_size(&m, &arena_bytes) == LR_OK &&
        lr_input_size(&m, &n_in) == LR_OK && lr_output_size(&m, &n_out) == LR_OK && arena_bytes <= MAX_ARENA &&
        n_in <= (MAX_ARENA / 4u) && n_out <= (MAX_ARENA / 4u)) {
        void *arena = malloc(arena_bytes ? arena_bytes : 1u);
        float *in = (float *)calloc(n_in ? n_in : 1u, sizeof(float));
        float *out = (float *)malloc((n_out ? n_out : 1u) * sizeof(float));
        size_t i;
        for (i = 0; in != NULL && i < n_in; i++) {
            in[i] = (float)((int)(i % 7u) - 3) * 0.5f; /* deterministic, non-trivial */
        }
        if (arena != NULL && in != NULL && out != NULL) {
            if (lr_run(&m, arena, arena_bytes, in, n_in, out, n_out) != LR_OK) {
                abort(); /* a verified blob with a right-sized arena must run */
            }
        }
        free(arena);
        arena = NULL;
        /* again with every LinRep conv on the template-reuse path (its own scratch size) */
        if (in != NULL && out != NULL && lr_set_conv_path(&m, LR_PATH_REUSE) == LR_OK &&
            lr_arena_size(&m, &arena_bytes) == LR_OK && arena_bytes <= MAX_ARENA) {
            arena = malloc(arena_bytes ? arena_bytes : 1u);
            if (arena != NULL && lr_run(&m, arena, arena_bytes, in, n_in, out, n_out) != LR_OK) {
                abort();
            }
        }
        free(arena);
        arena = NULL;
        {   /* an int8 model: the integer-only path too (zero inputs) */
            float scale = 0.0f;
            int32_t zp = 0;
            if (in != NULL && out != NULL && lr_input_quant(&m, &scale, &zp) == LR_OK && scale != 0.0f &&
                lr_arena_size(&m, &arena_bytes) == LR_OK && arena_bytes <= MAX_ARENA) {
                arena = malloc(arena_bytes ? arena_bytes : 1u);
                memset(in, 0, n_in); /* n_in int8 zeros: the first n_in bytes of the float buffer */
                if (arena != NULL && lr_run_i8(&m, arena, arena_bytes, (const int8_t *)(const void *)in, n_in,
                                               (int8_t *)(void *)out, n_out) != LR_OK) {
                    abort();
                }
            }
        }
        free(arena);
        arena = NULL;
        {   /* the offline plan of the setting in force (lr_plan_export): taken as exported; then with one bit of
             * one word flipped (chosen from the input's bytes), refused by lr_set_plan or run in its own arena */
            size_t words = 0, need = 0;
            uint32_t *plan = NULL;
            lr_model p;
            if (in != NULL && out != NULL && lr_arena_size(&m, &arena_bytes) == LR_OK && arena_bytes <= MAX_ARENA &&
                lr_plan_export(&m, NULL, 0u, NULL, 0u, &words) == LR_OK) {
                plan = (uint32_t *)malloc(4u * words);
                arena = malloc(arena_bytes ? arena_bytes : 1u);
            }
            if (plan != NULL && arena != NULL && lr_plan_export(&m, arena, arena_bytes, plan, words, &words) == LR_OK) {
                const uint32_t h = lr_crc32_update(0u, data, size);
                if (lr_init(&p, blob, size) != LR_OK || lr_set_plan(&p, plan, words) != LR_OK) {
                    abort(); /* an exported plan must be taken */
                }
                plan[h % words] ^= 1u << ((h >> 24) & 31u);
                if (lr_init(&p, blob, size) == LR_OK && lr_set_plan(&p, plan, words) == LR_OK &&
                    lr_arena_size(&p, &need) == LR_OK && need <= MAX_ARENA) {
                    void *exact = malloc(need ? need : 1u);
                    if (exact != NULL && lr_run(&p, exact, need, in, n_in, out, n_out) != LR_OK) {
                        abort(); /* an accepted plan with its own arena must run */
                    }
                    free(exact);
                }
            }
            free(plan);
        }
        free(arena);
        free(in);
        free(out);
    }
    free(blob);
    return 0;
}
