/*
 * test_arena.c -- the plan kept at the arena head, and lr_model's build-option independence.
 *
 * For every model of the manifest: a run on a fresh arena (which plans) and runs on the same arena
 * after it (which find the plan) give the same output bits; so do runs after any one word of the
 * plan region was overwritten (the stamp or checksum no longer match: lr_run plans again), after
 * lr_arena_prepare, after another model or another conv path used the arena, and on a copy of the
 * model. lr_arena_prepare's errors leave the arena untouched.
 *
 * Built with a different LR_MAX_TENSORS than the library on purpose: lr_model must not change size.
 */
#define LR_MAX_TENSORS 4096u
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linrep.h"
#include "test_util.h"

typedef struct loaded {
    unsigned char *blob;
    lr_model m;
    size_t in_len, out_len, arena_bytes;
    float *in;
} loaded;

static void load(const char *dir, const char *name, loaded *l)
{
    char path[512];
    size_t size, in_bytes;
    snprintf(path, sizeof path, "%s/%s.lre", dir, name);
    l->blob = tu_read_file(path, &size);
    snprintf(path, sizeof path, "%s/%s.in", dir, name);
    l->in = (float *)(void *)tu_read_file(path, &in_bytes);
    TU_CHECK_STATUS(lr_init(&l->m, l->blob, size), LR_OK);
    TU_CHECK_STATUS(lr_input_size(&l->m, &l->in_len), LR_OK);
    TU_CHECK_STATUS(lr_output_size(&l->m, &l->out_len), LR_OK);
    TU_CHECK_STATUS(lr_arena_size(&l->m, &l->arena_bytes), LR_OK);
}

static void unload(loaded *l)
{
    free(l->blob);
    free(l->in);
}

/* Output of one run of l (the model in *m) on `arena`, into out; returns its status. */
static lr_status run(const loaded *l, const lr_model *m, unsigned char *arena, size_t bytes, float *out)
{
    return lr_run(m, arena, bytes, l->in, l->in_len, out, l->out_len);
}

static int same_bits(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof(float)) == 0;
}

static void check_case(const char *dir, const char *name, const loaded *other)
{
    loaded l;
    lr_model copy, direct, zero;
    size_t bytes, arena_max, plan_words, j;
    unsigned char *arena, *fresh;
    float *ref, *out, *ref_direct;

    load(dir, name, &l);
    if (tu_failures) {
        return;
    }
    bytes = l.arena_bytes;
    arena_max = bytes > other->arena_bytes ? bytes : other->arena_bytes;
    arena = (unsigned char *)tu_xmalloc(arena_max + 64u); /* malloc: 16-byte aligned */
    fresh = (unsigned char *)tu_xmalloc(bytes);
    ref = (float *)tu_xmalloc(l.out_len * sizeof(float));
    ref_direct = (float *)tu_xmalloc(l.out_len * sizeof(float));
    out = (float *)tu_xmalloc((l.out_len > other->out_len ? l.out_len : other->out_len) * sizeof(float));

    /* cold (plans), then warm (finds the plan) */
    memset(arena, 0xA5, arena_max + 64u);
    TU_CHECK_STATUS(run(&l, &l.m, arena, bytes, ref), LR_OK);
    TU_CHECK_STATUS(run(&l, &l.m, arena, bytes, out), LR_OK);
    TU_CHECK(same_bits(ref, out, l.out_len));

    /* any one word of the plan region overwritten: planned again, same result */
    plan_words = bytes / 4u < 67u ? bytes / 4u : 67u; /* the head: stamp, key, check, offsets, bits */
    for (j = 0; j < plan_words; j++) {
        uint32_t w;
        memcpy(&w, arena + 4u * j, 4u);
        w ^= 0x00010001u;
        memcpy(arena + 4u * j, &w, 4u);
        TU_CHECK_STATUS(run(&l, &l.m, arena, bytes, out), LR_OK);
        if (!same_bits(ref, out, l.out_len)) {
            fprintf(stderr, "%s: plan word %lu overwritten: output differs\n", name, (unsigned long)j);
            tu_failures++;
            break;
        }
    }

    /* lr_arena_prepare, then run */
    memset(fresh, 0x5A, bytes);
    TU_CHECK_STATUS(lr_arena_prepare(&l.m, fresh, bytes), LR_OK);
    TU_CHECK_STATUS(run(&l, &l.m, fresh, bytes, out), LR_OK);
    TU_CHECK(same_bits(ref, out, l.out_len));

    /* errors leave the arena untouched */
    memset(fresh, 0x5A, bytes);
    memset(&zero, 0, sizeof zero);
    TU_CHECK_STATUS(lr_arena_prepare(NULL, fresh, bytes), LR_ERR_NULL_ARG);
    TU_CHECK_STATUS(lr_arena_prepare(&l.m, NULL, bytes), LR_ERR_NULL_ARG);
    TU_CHECK_STATUS(lr_arena_prepare(&zero, fresh, bytes), LR_ERR_NOT_INITIALIZED);
    TU_CHECK_STATUS(lr_arena_prepare(&l.m, fresh, bytes - 1u), LR_ERR_ARENA_TOO_SMALL);
    TU_CHECK_STATUS(lr_run(&l.m, fresh, bytes - 1u, l.in, l.in_len, out, l.out_len), LR_ERR_ARENA_TOO_SMALL);
    for (j = 0; j < bytes; j++) {
        if (fresh[j] != 0x5A) {
            fprintf(stderr, "%s: arena byte %lu written by a failed call\n", name, (unsigned long)j);
            tu_failures++;
            break;
        }
    }

    /* another model used the arena in between */
    TU_CHECK_STATUS(lr_run(&other->m, arena, other->arena_bytes, other->in, other->in_len, out, other->out_len),
                    LR_OK);
    TU_CHECK_STATUS(run(&l, &l.m, arena, bytes, out), LR_OK);
    TU_CHECK(same_bits(ref, out, l.out_len));

    /* a copy of the model finds the plan; a copy on another path does not take it */
    copy = l.m;
    TU_CHECK_STATUS(run(&l, &copy, arena, bytes, out), LR_OK);
    TU_CHECK(same_bits(ref, out, l.out_len));
    direct = l.m;
    TU_CHECK_STATUS(lr_set_conv_path(&direct, LR_PATH_DIRECT), LR_OK);
    {
        size_t db = 0;
        unsigned char *da;
        TU_CHECK_STATUS(lr_arena_size(&direct, &db), LR_OK);
        da = (unsigned char *)tu_xmalloc(db);
        TU_CHECK_STATUS(run(&l, &direct, da, db, ref_direct), LR_OK); /* fresh arena: reference */
        if (db <= arena_max + 64u) {
            TU_CHECK_STATUS(run(&l, &l.m, arena, bytes, out), LR_OK);           /* AUTO plan in arena */
            TU_CHECK_STATUS(run(&l, &direct, arena, db, out), LR_OK);          /* must replan */
            TU_CHECK(same_bits(ref_direct, out, l.out_len));
            TU_CHECK_STATUS(run(&l, &l.m, arena, bytes, out), LR_OK);
            TU_CHECK(same_bits(ref, out, l.out_len));
        }
        free(da);
    }
    printf("  %-22s arena %6lu B: cold, warm, %lu overwritten plan words, prepare, shared, copies: same bits\n",
           name, (unsigned long)bytes, (unsigned long)plan_words);
    free(arena);
    free(fresh);
    free(ref);
    free(ref_direct);
    free(out);
    unload(&l);
}

int main(int argc, char **argv)
{
    char path[512], name[128], first[128];
    unsigned long n;
    int cases = 0;
    FILE *f;
    loaded other;
    if (argc < 2) {
        fprintf(stderr, "usage: test_arena DIR (with manifest.txt from gen_test_blobs.py)\n");
        return 2;
    }
    /* lr_model's size does not depend on LR_MAX_TENSORS (this file uses 4096, the library 128) */
    TU_CHECK(lr_model_sizeof() == sizeof(lr_model));
    snprintf(path, sizeof path, "%s/manifest.txt", argv[1]);
    f = fopen(path, "r");
    if (f == NULL || fscanf(f, "%127s %lu", first, &n) != 2) {
        fprintf(stderr, "cannot read %s\n", path);
        return 2;
    }
    load(argv[1], first, &other); /* the first model: the "other" model sharing an arena */
    rewind(f);
    while (fscanf(f, "%127s %lu", name, &n) == 2) {
        check_case(argv[1], name, &other);
        cases++;
    }
    fclose(f);
    TU_CHECK(cases > 0);
    unload(&other);
    return tu_report("test_arena");
}
