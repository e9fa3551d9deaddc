/*
 * test_corrupt.c -- corruption sweep: the runtime must never crash or read out of bounds on a
 * damaged blob. Built with ASan + UBSan by `make sanitize` (every mutated blob is an exact-size
 * heap copy, so one byte of over-read is caught).
 *
 *   test_corrupt BLOB [--flips N] [--seed S] [--max-seconds T]
 *
 * Phases, on BLOB (a valid .lre):
 *   1. every truncation length 0 .. size-1: lr_init;
 *   2. N random flips of 1-3 bits, CRC left as is: lr_init must refuse every one;
 *   3. N random flips of 1-3 bits, CRC recomputed: exercises the structural and semantic verifier;
 *   4. N random overwrites of 1-4 bytes (random or 0x00/0xFF/0x7F/0x80), CRC recomputed.
 * (2, 3 and 4 take turns, one of each per round, so that a time bound shortens all three.)
 * Whenever lr_init accepts a blob, lr_run runs it on a random input in an arena of exactly
 * lr_arena_size bytes. --max-seconds stops the sweep early (CPU time) and says so; the exit
 * status is 0 unless a check failed. Prints how often each status came back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lr_internal.h"
#include "test_util.h"

#define N_STATUS 64

static unsigned long counts[N_STATUS];
static unsigned long runs_ok;
static double max_seconds = 0.0;
static clock_t t_start;
static int stopped_early;

static int out_of_time(void)
{
    if (max_seconds > 0.0 && (double)(clock() - t_start) / CLOCKS_PER_SEC > max_seconds) {
        stopped_early = 1;
    }
    return stopped_early;
}

/* lr_init on an exact-size copy; lr_run if accepted. Returns the lr_init status. */
static lr_status try_blob(const unsigned char *data, size_t size, unsigned *rng)
{
    unsigned char *copy = (unsigned char *)tu_xmalloc(size);
    lr_model m;
    lr_status s;
    if (size) {
        memcpy(copy, data, size);
    }
    s = lr_init(&m, copy, size);
    counts[(unsigned)(-(int)s) % N_STATUS]++;
    if (s == LR_OK) {
        size_t arena_bytes = 0, in_len = 0, out_len = 0, i;
        float *in, *out;
        void *arena;
        TU_CHECK_STATUS(lr_arena_size(&m, &arena_bytes), LR_OK);
        TU_CHECK_STATUS(lr_input_size(&m, &in_len), LR_OK);
        TU_CHECK_STATUS(lr_output_size(&m, &out_len), LR_OK);
        arena = tu_xmalloc(arena_bytes);
        in = (float *)tu_xmalloc(in_len * sizeof(float));
        out = (float *)tu_xmalloc(out_len * sizeof(float));
        for (i = 0; i < in_len; i++) {
            in[i] = (float)(tu_rand(rng) % 2001u) / 1000.0f - 1.0f;
        }
        TU_CHECK_STATUS(lr_run(&m, arena, arena_bytes, in, in_len, out, out_len), LR_OK);
        runs_ok++;
        free(arena);
        /* the same blob again with every LinRep conv on the template-reuse path */
        TU_CHECK_STATUS(lr_set_conv_path(&m, LR_PATH_REUSE), LR_OK);
        TU_CHECK_STATUS(lr_arena_size(&m, &arena_bytes), LR_OK);
        arena = tu_xmalloc(arena_bytes);
        TU_CHECK_STATUS(lr_run(&m, arena, arena_bytes, in, in_len, out, out_len), LR_OK);
        free(arena);
        free(in);
        free(out);
    }
    free(copy);
    return s;
}

static void put_crc(unsigned char *b, size_t size, uint32_t crc_pos)
{
    uint32_t crc;
    memset(b + crc_pos, 0, 4);
    crc = lr_crc32_update(0u, b, size);
    b[crc_pos] = (unsigned char)crc;
    b[crc_pos + 1] = (unsigned char)(crc >> 8);
    b[crc_pos + 2] = (unsigned char)(crc >> 16);
    b[crc_pos + 3] = (unsigned char)(crc >> 24);
}

int main(int argc, char **argv)
{
    static const unsigned char special[4] = {0x00, 0xFF, 0x7F, 0x80};
    unsigned long flips = 10000, k;
    unsigned seed = 1, rng;
    size_t size, len;
    unsigned char *blob, *work;
    uint32_t crc_pos;
    lr_model m;
    int i;
    for (i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--flips") == 0) {
            flips = strtoul(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--seed") == 0) {
            seed = (unsigned)strtoul(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--max-seconds") == 0) {
            max_seconds = atof(argv[i + 1]);
        } else {
            break;
        }
    }
    if (argc < 2 || i < argc) {
        fprintf(stderr, "usage: test_corrupt BLOB [--flips N] [--seed S] [--max-seconds T]\n");
        return 2;
    }
    t_start = clock();
    rng = seed ? seed : 1u;
    blob = tu_read_file(argv[1], &size);
    if (lr_init(&m, blob, size) != LR_OK) {
        fprintf(stderr, "%s: not a valid blob to start from\n", argv[1]);
        return 2;
    }
    crc_pos = lr_field(blob, m.root, LR_MODEL_CRC32);
    work = (unsigned char *)tu_xmalloc(size);

    for (len = 0; len < size && !out_of_time(); len++) { /* 1 */
        (void)try_blob(blob, len, &rng);
    }
    for (k = 0; k < flips && !out_of_time(); k++) { /* 2, 3 and 4 interleaved: a time bound cuts all */
        int n = 1 + (int)(tu_rand(&rng) % 3u), b;
        memcpy(work, blob, size); /* 2: bit flips, CRC as is */
        for (b = 0; b < n; b++) {
            uint32_t bit = tu_rand(&rng) % (uint32_t)(size * 8u);
            work[bit / 8u] ^= (unsigned char)(1u << (bit % 8u));
        }
        if (memcmp(work, blob, size) != 0 && try_blob(work, size, &rng) == LR_OK) {
            fprintf(stderr, "bit flips accepted without a CRC fix (mutation %lu)\n", k);
            tu_failures++;
        }
        memcpy(work, blob, size); /* 3: bit flips, CRC fixed */
        for (b = 0; b < n; b++) {
            uint32_t bit = tu_rand(&rng) % (uint32_t)(size * 8u);
            work[bit / 8u] ^= (unsigned char)(1u << (bit % 8u));
        }
        put_crc(work, size, crc_pos);
        (void)try_blob(work, size, &rng);
        memcpy(work, blob, size); /* 4: byte overwrites, CRC fixed */
        n = 1 + (int)(tu_rand(&rng) % 4u);
        for (b = 0; b < n; b++) {
            uint32_t pos = tu_rand(&rng) % (uint32_t)size;
            unsigned r = tu_rand(&rng);
            work[pos] = (r & 0x100u) ? special[r % 4u] : (unsigned char)r;
        }
        put_crc(work, size, crc_pos);
        (void)try_blob(work, size, &rng);
    }

    printf("%s: %lu bytes, %lu truncations, 3 x %lu mutations, %lu accepted and run, %.1f s%s\n", argv[1],
           (unsigned long)size, (unsigned long)len, k, runs_ok, (double)(clock() - t_start) / CLOCKS_PER_SEC,
           stopped_early ? " (stopped early: --max-seconds)" : "");
    for (k = 0; k < N_STATUS; k++) {
        if (counts[k]) {
            printf("  %8lu x %s\n", counts[k], lr_status_str((lr_status)(-(int)k)));
        }
    }
    free(work);
    free(blob);
    return tu_report("test_corrupt");
}
