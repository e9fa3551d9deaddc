/*
 * test_corrupt.c -- corruption sweep: the runtime must never crash or read out of bounds on a
 * damaged blob. Built with ASan + UBSan by `make sanitize` (every mutated blob is an exact-size
 * heap copy, so one byte of over-read is caught).
 *
 *   test_corrupt BLOB [--flips N] [--seed S] [--max-seconds T]
 *   test_corrupt BLOB --vectors POSITIONS
 *
 * Phases, on BLOB (a valid .lre):
 *   1. every truncation length 0 .. size-1: lr_init;
 *   2. N random flips of 1-3 bits, CRC left as is: lr_init must refuse every one;
 *   3. N random flips of 1-3 bits, CRC recomputed: exercises the structural and semantic verifier;
 *   4. N random overwrites of 1-4 bytes (random or 0x00/0xFF/0x7F/0x80), CRC recomputed.
 * (2, 3 and 4 take turns, one of each per round, so that a time bound shortens all three.)
 * With --vectors, instead: POSITIONS (gen_test_blobs.py's NAME.vec) gives the byte position of the length word
 * of every vector and string in BLOB; each is shortened in place, one at a time, to 0, 1 and one less than it
 * holds (CRC recomputed): a field present but empty, a single value where a list is due, a list one short (the
 * class of the empty bias vector the fuzzer found). Under ASan the elements cut off are poisoned once lr_init has
 * accepted the blob, so that a kernel reading a vector past its stored length is caught wherever the vector lies.
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

/* Under ASan, bytes of the blob copy that no field holds any more (a shortened vector's tail) are poisoned once
 * lr_init has accepted the blob (its CRC-32 reads every byte): a read of them by lr_run or the planner is reported
 * as if it were past the end of the blob. ASan poisons whole 8-byte granules and the tails
 * of granules, so a range's last partial granule stays readable. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* lr_init on an exact-size copy; if accepted, bytes [hole, hole + hole_len) of it poisoned and lr_run. Returns
 * the lr_init status. */
static lr_status try_blob_holed(const unsigned char *data, size_t size, size_t hole, size_t hole_len, unsigned *rng)
{
    unsigned char *copy = (unsigned char *)tu_xmalloc(size);
    lr_model m;
    lr_status s;
    if (size) {
        memcpy(copy, data, size);
    }
    s = lr_init(&m, copy, size);
    if (hole_len) {
        POISON(copy + hole, hole_len); /* after lr_init: its CRC-32 reads every byte */
    }
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
    if (hole_len) {
        UNPOISON(copy + hole, hole_len);
    }
    free(copy);
    return s;
}

/* lr_init on an exact-size copy; lr_run if accepted. Returns the lr_init status. */
static lr_status try_blob(const unsigned char *data, size_t size, unsigned *rng)
{
    return try_blob_holed(data, size, 0, 0, rng);
}

static void put_crc(unsigned char *b, size_t size, uint32_t crc_pos);

/* --vectors: every vector of `blob` shortened in place, one at a time (to 0, 1 and n - 1 elements), the elements it
 * no longer holds poisoned; the file `path` gives "POSITION ELEMENT_BYTES" per vector (decimal). Returns the
 * mutants tried. */
static unsigned long shorten_vectors(const unsigned char *blob, size_t size, uint32_t crc_pos, const char *path,
                                     unsigned *rng)
{
    unsigned char *work = (unsigned char *)tu_xmalloc(size);
    unsigned long tried = 0, pos, es;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "cannot read %s\n", path);
        tu_failures++;
        free(work);
        return 0;
    }
    while (fscanf(f, "%lu %lu", &pos, &es) == 2) {
        uint32_t n, want[3], k;
        if (pos + 4u > size || es == 0u || es > 8u) {
            fprintf(stderr, "%s: position %lu is past the blob\n", path, pos);
            tu_failures++;
            break;
        }
        n = (uint32_t)blob[pos] | (uint32_t)blob[pos + 1] << 8 | (uint32_t)blob[pos + 2] << 16 |
            (uint32_t)blob[pos + 3] << 24;
        if ((uint64_t)n * es > size - pos - 4u) {
            fprintf(stderr, "%s: the vector at %lu runs past the blob\n", path, pos);
            tu_failures++;
            break;
        }
        want[0] = 0u;
        want[1] = 1u;
        want[2] = n - 1u;
        for (k = 0; k < 3u; k++) {
            if (n == 0u || want[k] >= n || (k == 2u && want[k] <= 1u)) {
                continue; /* only shorter, each length once */
            }
            memcpy(work, blob, size);
            work[pos] = (unsigned char)want[k];
            work[pos + 1] = (unsigned char)(want[k] >> 8);
            work[pos + 2] = (unsigned char)(want[k] >> 16);
            work[pos + 3] = (unsigned char)(want[k] >> 24);
            put_crc(work, size, crc_pos);
            (void)try_blob_holed(work, size, pos + 4u + want[k] * es, (size_t)(n - want[k]) * es, rng);
            tried++;
        }
    }
    fclose(f);
    free(work);
    return tried;
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
    const char *vectors = NULL;
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
        } else if (strcmp(argv[i], "--vectors") == 0) {
            vectors = argv[i + 1];
        } else if (strcmp(argv[i], "--max-seconds") == 0) {
            max_seconds = atof(argv[i + 1]);
        } else {
            break;
        }
    }
    if (argc < 2 || i < argc) {
        fprintf(stderr, "usage: test_corrupt BLOB [--flips N] [--seed S] [--max-seconds T] | BLOB --vectors FILE\n");
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
    if (vectors != NULL) {
        k = shorten_vectors(blob, size, crc_pos, vectors, &rng);
        printf("%s: %lu vectors shortened, %lu accepted and run\n", argv[1], k, runs_ok);
        for (k = 0; k < N_STATUS; k++) {
            if (counts[k]) {
                printf("  %8lu x %s\n", counts[k], lr_status_str((lr_status)(-(int)k)));
            }
        }
        free(blob);
        return tu_report("test_corrupt");
    }
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
