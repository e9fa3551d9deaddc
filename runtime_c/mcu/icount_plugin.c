/*
 * icount_plugin.c -- QEMU TCG plugin (API v1, QEMU 7.2): exact count of guest
 * instructions executed between the entries of two marker functions.
 *
 *   qemu-system-arm ... -plugin icount_plugin.so,begin=0xADDR,end=0xADDR[,mark=0xADDR][,out=FILE][,profile=1]
 *
 * begin/end/mark are the entry addresses of lr_bench_begin, lr_bench_end and
 * lr_bench_mark (bit 0, the Thumb bit of ELF symbol values, is ignored).
 *
 * Every translated instruction gets an inline "add 1" on a global counter
 * (no helper call, so it is cheap); the instructions at the marker addresses
 * additionally get an exec callback that snapshots the counter.  Hence:
 *   total      = instructions from the entry of lr_bench_begin up to the
 *                entry of lr_bench_end (begin's own body included, end's not)
 *   segment i  = instructions between successive boundaries, where the
 *                boundaries are begin, each call of lr_bench_mark, and end;
 *                the segments sum to total.
 * The count is a property of the guest program, not of host timing, so
 * repeated runs give the same figures.  These are instructions, not cycles.
 *
 * Output at exit (qemu_plugin_outs -> QEMU's log, stderr by default; and the
 * file named by out=, if any), one "icount key=value..." line each:
 *   icount total=N / windows=W / segments=S / segment=i n=M / all=N
 *   icount error=...   when the window was never opened or never closed
 *
 * With profile=1, every translated block (TB) also gets an exec callback that counts its executions while
 * the window is open, and the out= file gains one line per block that ran in it:
 *   icount tb=0xADDR n=INSNS execs=E       (the block's first address, its instructions, its executions)
 * n * execs summed over the blocks is the window's count up to the marker blocks' edges (a block's callback
 * runs at its entry, before the markers' own: the block at lr_bench_begin is left out, the one at
 * lr_bench_end counted whole). Blocks end at branches, so a block lies in one function: a per-function
 * profile is the sum over the blocks that start in it (run_qemu.py maps them with the ELF's symbols).
 */
#define _POSIX_C_SOURCE 200809L /* strdup */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_plugin_api.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

enum marker { MARK_BEGIN, MARK_END, MARK_MARK, MARK_COUNT };

static const char *const marker_names[MARK_COUNT] = {"begin", "end", "mark"};

static uint64_t marker_addr[MARK_COUNT];
static int marker_set[MARK_COUNT];
static char *out_path;

/* Incremented inline by every executed guest instruction. */
static uint64_t insn_count;

static int active;
static uint64_t window_start;
static uint64_t segment_start;
static uint64_t total;
static uint64_t windows;
static uint64_t stray_ends;
static uint64_t stray_marks;
static uint64_t nested_begins;
static uint64_t *segments;
static size_t n_segments;
static size_t cap_segments;

static void push_segment(uint64_t n)
{
    if (n_segments == cap_segments) {
        size_t cap = cap_segments ? 2 * cap_segments : 64;
        uint64_t *p = realloc(segments, cap * sizeof *p);
        if (p == NULL) {
            fprintf(stderr, "icount_plugin: out of memory\n");
            abort();
        }
        segments = p;
        cap_segments = cap;
    }
    segments[n_segments++] = n;
}

static void on_begin(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    (void)udata;
    if (active) {
        /* Unbalanced begin: restart the window, but say so. */
        ++nested_begins;
        --windows;
    }
    active = 1;
    ++windows;
    window_start = insn_count;
    segment_start = insn_count;
}

static void on_mark(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    (void)udata;
    if (!active) {
        ++stray_marks;
        return;
    }
    push_segment(insn_count - segment_start);
    segment_start = insn_count;
}

static void on_end(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    (void)udata;
    if (!active) {
        ++stray_ends;
        return;
    }
    total += insn_count - window_start;
    push_segment(insn_count - segment_start);
    active = 0;
}

static const qemu_plugin_vcpu_udata_cb_t marker_cb[MARK_COUNT] = {on_begin, on_end, on_mark};

/* profile=1: one record per translated block (a block translated again gets another; the exit merges
 * nothing, the reader sums by address). */
typedef struct tb_rec {
    uint64_t vaddr;
    uint64_t execs;
    size_t n;
    struct tb_rec *next;
} tb_rec;

static int profile;
static tb_rec *tb_recs;

static void on_tb_exec(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    if (active) {
        ((tb_rec *)udata)->execs++;
    }
}

static void profile_tb(struct qemu_plugin_tb *tb)
{
    tb_rec *r = calloc(1, sizeof *r);
    if (r == NULL) {
        fprintf(stderr, "icount_plugin: out of memory\n");
        abort();
    }
    r->vaddr = qemu_plugin_tb_vaddr(tb);
    r->n = qemu_plugin_tb_n_insns(tb);
    r->next = tb_recs;
    tb_recs = r;
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_tb_exec, QEMU_PLUGIN_CB_NO_REGS, r);
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    size_t i;
    int m;
    (void)id;
    if (profile) {
        profile_tb(tb);
    }
    for (i = 0; i < n; ++i) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t vaddr = qemu_plugin_insn_vaddr(insn);
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
                                                   &insn_count, 1);
        for (m = 0; m < MARK_COUNT; ++m) {
            if (marker_set[m] && vaddr == marker_addr[m]) {
                qemu_plugin_register_vcpu_insn_exec_cb(insn, marker_cb[m],
                                                       QEMU_PLUGIN_CB_NO_REGS, NULL);
            }
        }
    }
}

static void emit(FILE *f, const char *line)
{
    qemu_plugin_outs(line);
    if (f != NULL) {
        fputs(line, f);
    }
}

static void plugin_exit(qemu_plugin_id_t id, void *udata)
{
    char line[160];
    FILE *f = NULL;
    size_t i;
    (void)id;
    (void)udata;
    if (out_path != NULL) {
        f = fopen(out_path, "w");
        if (f == NULL) {
            fprintf(stderr, "icount_plugin: cannot write %s\n", out_path);
        }
    }
    snprintf(line, sizeof line, "icount begin=0x%" PRIx64 " end=0x%" PRIx64 " mark=0x%" PRIx64 "\n",
             marker_addr[MARK_BEGIN], marker_addr[MARK_END], marker_addr[MARK_MARK]);
    emit(f, line);
    if (windows == 0) {
        emit(f, "icount error=begin-not-reached\n");
    } else if (active) {
        emit(f, "icount error=end-not-reached\n");
    }
    if (nested_begins || stray_ends || stray_marks) {
        snprintf(line, sizeof line,
                 "icount warning=unbalanced nested_begins=%" PRIu64 " stray_ends=%" PRIu64
                 " stray_marks=%" PRIu64 "\n",
                 nested_begins, stray_ends, stray_marks);
        emit(f, line);
    }
    snprintf(line, sizeof line, "icount total=%" PRIu64 "\n", total);
    emit(f, line);
    snprintf(line, sizeof line, "icount windows=%" PRIu64 "\n", windows);
    emit(f, line);
    snprintf(line, sizeof line, "icount segments=%zu\n", n_segments);
    emit(f, line);
    for (i = 0; i < n_segments; ++i) {
        snprintf(line, sizeof line, "icount segment=%zu n=%" PRIu64 "\n", i, segments[i]);
        emit(f, line);
    }
    snprintf(line, sizeof line, "icount all=%" PRIu64 "\n", insn_count);
    emit(f, line);
    if (f != NULL) {
        const tb_rec *r;
        for (r = tb_recs; r != NULL; r = r->next) { /* the out= file only: one line per block that ran */
            if (r->execs) {
                fprintf(f, "icount tb=0x%" PRIx64 " n=%zu execs=%" PRIu64 "\n", r->vaddr, r->n, r->execs);
            }
        }
        fclose(f);
    }
}

static int parse_arg(const char *arg)
{
    const char *eq = strchr(arg, '=');
    size_t key_len;
    int m;
    if (eq == NULL) {
        return -1;
    }
    key_len = (size_t)(eq - arg);
    if (key_len == 7 && strncmp(arg, "profile", 7) == 0) {
        profile = strcmp(eq + 1, "1") == 0;
        return profile || strcmp(eq + 1, "0") == 0 ? 0 : -1;
    }
    if (key_len == 3 && strncmp(arg, "out", 3) == 0) {
        free(out_path);
        out_path = strdup(eq + 1);
        return out_path != NULL ? 0 : -1;
    }
    for (m = 0; m < MARK_COUNT; ++m) {
        if (key_len == strlen(marker_names[m]) && strncmp(arg, marker_names[m], key_len) == 0) {
            char *endp = NULL;
            unsigned long long v = strtoull(eq + 1, &endp, 0);
            if (endp == eq + 1 || *endp != '\0') {
                return -1;
            }
            marker_addr[m] = (uint64_t)v & ~(uint64_t)1; /* drop the Thumb bit */
            marker_set[m] = 1;
            return 0;
        }
    }
    return -1;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv)
{
    int i;
    (void)info;
    for (i = 0; i < argc; ++i) {
        if (parse_arg(argv[i]) != 0) {
            fprintf(stderr, "icount_plugin: bad argument '%s' "
                            "(expected begin=ADDR end=ADDR [mark=ADDR] [out=FILE] [profile=0|1])\n",
                    argv[i]);
            return -1;
        }
    }
    if (!marker_set[MARK_BEGIN] || !marker_set[MARK_END]) {
        fprintf(stderr, "icount_plugin: begin= and end= are required\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
    qemu_plugin_register_atexit_cb(id, plugin_exit, NULL);
    return 0;
}
