/*
 * test_util.h -- helpers shared by the C tests (header-only): checks that count failures, file
 * reading, a small deterministic RNG.
 */
#ifndef LR_TEST_UTIL_H
#define LR_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tu_failures = 0;

#define TU_CHECK(cond)                                                                 \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);  \
            tu_failures++;                                                             \
        }                                                                              \
    } while (0)

#define TU_CHECK_STATUS(expr, expected)                                                          \
    do {                                                                                         \
        lr_status tu_got_ = (expr);                                                              \
        if (tu_got_ != (expected)) {                                                             \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d (%s)\n", __FILE__, __LINE__, \
                    #expr, (int)tu_got_, lr_status_str(tu_got_), (int)(expected),                \
                    lr_status_str(expected));                                                    \
            tu_failures++;                                                                       \
        }                                                                                        \
    } while (0)

static inline void *tu_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "out of memory (%lu bytes)\n", (unsigned long)n);
        exit(2);
    }
    return p;
}

/* Whole file into a malloc'd buffer; exits on error. */
static inline unsigned char *tu_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    buf = (unsigned char *)tu_xmalloc((size_t)n);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

/* xorshift32: deterministic, seedable (seed != 0). */
static inline unsigned tu_rand(unsigned *state)
{
    unsigned x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

static inline int tu_report(const char *name)
{
    if (tu_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, tu_failures);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

/* The LinRep conv paths of the library under test (-DLR_LINREP_PATHS=<mask>, linrep.h; the tests are built with
 * the library's defines): bit 0 direct, bit 1 template reuse. */
#ifdef LR_LINREP_PATHS
#define TU_DIRECT_ON (((LR_LINREP_PATHS) & 1u) != 0u)
#define TU_REUSE_ON (((LR_LINREP_PATHS) & 2u) != 0u)
#else
#define TU_DIRECT_ON 1
#define TU_REUSE_ON 1
#endif

#ifdef LINREP_H
static const struct {
    const char *name;
    lr_status code;
} tu_status_names[] = {
#define X_(name, value, text) {#name, name},
    LR_STATUS_LIST(X_)
#undef X_
};

/* Every hostile blob of DIR/reject.txt ("file STATUS_NAME" lines, gen_test_blobs.py) refused by lr_init with
 * its status. */
static inline void tu_run_rejects(const char *dir)
{
    char path[512], file[160], want_name[64];
    FILE *f;
    int n = 0;
    snprintf(path, sizeof path, "%s/reject.txt", dir);
    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        tu_failures++;
        return;
    }
    while (fscanf(f, "%159s %63s", file, want_name) == 2) {
        size_t size, i;
        unsigned char *blob;
        lr_model m;
        lr_status got, want = LR_OK;
        int32_t op, tensor;
        for (i = 0; i < sizeof tu_status_names / sizeof tu_status_names[0]; i++) {
            if (strcmp(tu_status_names[i].name, want_name) == 0) {
                want = tu_status_names[i].code;
            }
        }
        TU_CHECK(want != LR_OK);
        snprintf(path, sizeof path, "%s/%s", dir, file);
        blob = tu_read_file(path, &size);
        got = lr_init(&m, blob, size);
        lr_error_location(&m, &op, &tensor);
        if (got != want) {
            fprintf(stderr, "%s: lr_init returned %s, expected %s\n", file, lr_status_str(got), lr_status_str(want));
            tu_failures++;
        }
        free(blob);
        n++;
    }
    fclose(f);
    printf("  %d hostile blobs refused with the expected status\n", n);
    TU_CHECK(n > 0);
}

/* With one LinRep path left out of the library: lr_set_conv_path refuses it (LR_ERR_UNSUPPORTED_OP, the model
 * unchanged), and AUTO runs the other on every LINREP_CONV2D op (lr_op_conv_info). Nothing to check otherwise. */
static inline void tu_check_paths_left_out(lr_model *m)
{
#if !TU_DIRECT_ON || !TU_REUSE_ON
    unsigned ops = 0, k, type = 0;
    const lr_conv_path only = TU_DIRECT_ON ? LR_PATH_DIRECT : LR_PATH_REUSE;
    TU_CHECK_STATUS(lr_set_conv_path(m, TU_DIRECT_ON ? LR_PATH_REUSE : LR_PATH_DIRECT), LR_ERR_UNSUPPORTED_OP);
    TU_CHECK_STATUS(lr_set_conv_path(m, LR_PATH_AUTO), LR_OK);
    TU_CHECK_STATUS(lr_op_count(m, &ops), LR_OK);
    for (k = 0; k < ops; k++) {
        lr_conv_cost info;
        TU_CHECK_STATUS(lr_op_info(m, k, &type, NULL), LR_OK);
        TU_CHECK_STATUS(lr_op_conv_info(m, k, &info), LR_OK);
        if (type == 1u) { /* LINREP_CONV2D */
            TU_CHECK(info.path == (uint32_t)only);
        }
    }
#else
    (void)m;
#endif
}
#endif

#endif
