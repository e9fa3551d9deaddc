/*
 * placeholder_workload.c -- stand-in workload, used when APP_SRCS is empty.
 *
 * A tiny float CNN on a static input: 3x3 convolution (4 -> 8 channels,
 * 16x16 input, valid padding), ReLU + 2x2 max-pool, and a dense layer
 * (8*7*7 -> 10).  lr_bench_mark() is called after each of the first two
 * layers, so the plugin reports three segments.  bench_report() prints the
 * float bits of the sum of the outputs as checksum=%08x.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

#define CIN 4
#define COUT 8
#define H 16
#define W 16
#define OH (H - 2)
#define OW (W - 2)
#define PH (OH / 2)
#define PW (OW / 2)
#define NFEAT (COUT * PH * PW)
#define NOUT 10

static float input[CIN][H][W];
static float conv_w[COUT][CIN][3][3];
static float conv_b[COUT];
static float conv_out[COUT][OH][OW];
static float pooled[NFEAT];
static float fc_w[NOUT][NFEAT];
static float fc_out[NOUT];

static uint32_t lcg_state = 12345u;

static float lcg_uniform(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    /* 24 random bits -> [-1, 1) */
    return (float)(int32_t)((lcg_state >> 8) & 0xFFFFFFu) / 8388608.0f - 1.0f;
}

static void fill(float *p, size_t n, float scale)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        p[i] = scale * lcg_uniform();
    }
}

int bench_setup(void)
{
    fill(&input[0][0][0], sizeof input / sizeof(float), 1.0f);
    fill(&conv_w[0][0][0][0], sizeof conv_w / sizeof(float), 0.25f);
    fill(conv_b, COUT, 0.1f);
    fill(&fc_w[0][0], sizeof fc_w / sizeof(float), 0.05f);
    return 0;
}

static void conv3x3(void)
{
    int co, ci, y, x, ky, kx;
    for (co = 0; co < COUT; ++co) {
        for (y = 0; y < OH; ++y) {
            for (x = 0; x < OW; ++x) {
                float acc = conv_b[co];
                for (ci = 0; ci < CIN; ++ci) {
                    for (ky = 0; ky < 3; ++ky) {
                        for (kx = 0; kx < 3; ++kx) {
                            acc += conv_w[co][ci][ky][kx] * input[ci][y + ky][x + kx];
                        }
                    }
                }
                conv_out[co][y][x] = acc;
            }
        }
    }
}

static float relu(float v)
{
    return v > 0.0f ? v : 0.0f;
}

static void relu_maxpool(void)
{
    int c, y, x;
    for (c = 0; c < COUT; ++c) {
        for (y = 0; y < PH; ++y) {
            for (x = 0; x < PW; ++x) {
                float m = relu(conv_out[c][2 * y][2 * x]);
                float v = relu(conv_out[c][2 * y][2 * x + 1]);
                m = v > m ? v : m;
                v = relu(conv_out[c][2 * y + 1][2 * x]);
                m = v > m ? v : m;
                v = relu(conv_out[c][2 * y + 1][2 * x + 1]);
                m = v > m ? v : m;
                pooled[(c * PH + y) * PW + x] = m;
            }
        }
    }
}

static void dense(void)
{
    int o, i;
    for (o = 0; o < NOUT; ++o) {
        float acc = 0.0f;
        for (i = 0; i < NFEAT; ++i) {
            acc += fc_w[o][i] * pooled[i];
        }
        fc_out[o] = acc;
    }
}

int bench_workload(void)
{
    conv3x3();
    lr_bench_mark(0);
    relu_maxpool();
    lr_bench_mark(1);
    dense();
    return 0;
}

int bench_report(void)
{
    float sum = 0.0f;
    uint32_t bits;
    int o;
    for (o = 0; o < NOUT; ++o) {
        sum += fc_out[o];
    }
    memcpy(&bits, &sum, sizeof bits);
    printf("checksum=%08lx\n", (unsigned long)bits);
    return 0;
}
