/*
 * lr_cost.c -- the cost model of a conv op (lr_op_conv_info; Python asks it through the binding, no mirror),
 * and what each op's kernel scratch is under a path setting (lr_set_conv_path), for the plan (lr_plan.c): the
 * template-reuse kernel's if the op takes it, and the direct / dense kernels' least and preferred sizes. The
 * formulas are in linrep.h (lr_conv_cost).
 */
#include "kernels/lr_opt_s8.h" /* lr_kernels.h, and LR_OPT_WIDE: whether the build has the wide padded-plane kernel */

#define BITMAP_BITS 512u

#if defined(__GNUC__)
#define LR_NOINLINE __attribute__((noinline))
#else
#define LR_NOINLINE
#endif

/* acc + a * b, saturating at UINT64_MAX (one out-of-line helper keeps the cost model small). The overflow test
 * uses 32-bit halves, not UINT64_MAX / a: no 64-bit division routine is linked into a firmware. */
static LR_NOINLINE uint64_t madd_sat(uint64_t acc, uint64_t a, uint64_t b)
{
    const uint64_t ah = a >> 32, al = a & 0xFFFFFFFFu, bh = b >> 32, bl = b & 0xFFFFFFFFu;
    uint64_t mid, p;
    if (ah != 0u && bh != 0u) {
        return UINT64_MAX;
    }
    mid = ah * bl + al * bh; /* one of the two terms is 0: < 2^64 */
    if ((mid >> 32) != 0u) {
        return UINT64_MAX;
    }
    mid <<= 32;
    p = al * bl;
    if (p > UINT64_MAX - mid) {
        return UINT64_MAX;
    }
    p += mid;
    return acc > UINT64_MAX - p ? UINT64_MAX : acc + p;
}

/* (tap, output pixel) pairs of one kernel inside the input: (sum_ky valid rows)(sum_kx valid cols). */
static uint64_t valid_taps(const lr_geom *c)
{
    uint64_t ry = 0u, rx = 0u;
    int32_t t;
    for (t = 0; t < c->kh; t++) {
        const int32_t off = t * c->dh - c->pt;
        const int32_t lo = lr_range_lo(off, c->sh), hi = lr_range_hi(off, c->sh, c->h, c->oh);
        ry += hi > lo ? (uint64_t)(hi - lo) : 0u;
    }
    for (t = 0; t < c->kw; t++) {
        const int32_t off = t * c->dw - c->pl;
        const int32_t lo = lr_range_lo(off, c->sw), hi = lr_range_hi(off, c->sw, c->w, c->ow);
        rx += hi > lo ? (uint64_t)(hi - lo) : 0u;
    }
    return madd_sat(0u, ry, rx);
}

/* U: sum over the groups' input channels of the number of distinct templates their kept kernels use
 * (every kernel without a kernel mask); *kept: the kept kernels. With a mask, a kept kernel's index is
 * at its rank among the kept kernels: the rank of kernel (o, i) is walked from (o - 1, i) over cin_g bits. */
static uint64_t templates_used(const lr_geom *c, const lr_linrep_params *p, uint64_t *kept)
{
    const unsigned char *idx = p->blob + p->lr.idx;
    const unsigned char *mask = p->lr.mask ? p->blob + p->lr.mask : NULL;
    uint32_t bitmap[BITMAP_BITS / 32u];
    uint64_t used = 0u;
    int32_t g, i, o;
    uint32_t base, n, q;
    *kept = 0u;
    for (n = 0u; n < (uint32_t)(c->oc * c->cin_g); n++) {
        *kept += (uint64_t)lr_kept(mask, n);
    }
    for (g = 0; g < c->groups; g++) {
        for (i = 0; i < c->cin_g; i++) {
            for (base = 0u; base < p->k; base += BITMAP_BITS) { /* ceil(K / 512) passes */
                uint32_t rank = 0u, at = 0u;
                memset(bitmap, 0, sizeof bitmap);
                for (o = 0; o < c->cout_g; o++) {
                    uint32_t t;
                    n = (uint32_t)(g * c->cout_g + o) * (uint32_t)c->cin_g + (uint32_t)i;
                    for (q = at; mask != NULL && q < n; q++) {
                        rank += (uint32_t)lr_kept(mask, q);
                    }
                    at = n;
                    if (!lr_kept(mask, n)) {
                        continue;
                    }
                    t = lr_unpack_index(idx, mask != NULL ? rank : n, p->lr.bits) - base;
                    if (t < BITMAP_BITS && (bitmap[t >> 5] & (1u << (t & 31u))) == 0u) {
                        bitmap[t >> 5] |= 1u << (t & 31u);
                        used++;
                    }
                }
            }
        }
    }
    return used;
}

#if LR_INT8 && LR_OPT_ON(LR_OPT_LINREP)
/* Int8 LinRep convs: the optimised kernels' executed instructions, in hundredths per unit, calibrated from
 * QEMU counts of the default ResNet-8 (tools/int8_kernels_bench.py) on Cortex-M4F (the DSP path) and
 * Cortex-M3 (the portable path, also the host's):
 *   direct = MAC * (dense-equivalent MACs of int16 blocks + 2 x those of split blocks) + COL * im2col taps
 *            + OUT * outputs + RB * rebuilt kernel values (Cout * Cin_g * kh * kw: W = a t + b, once per layer)
 *   reuse  = RK * kernels * output pixels (a' R + b' S per kept kernel) + RU * U * output pixels (one
 *            response per used template and pixel) + RC * input channels * output pixels (columns, box sums)
 *            + ROUT * outputs
 * (fields direct_cost / reuse_cost of lr_conv_cost for int8 models; direct_macs etc. keep linrep.h's formulas).
 * The reuse fit (non-negative least squares on relative error over the 7 LinRep layers at K = 16, 8-bit a/b, the
 * forced-reuse run; tools/int8_kernels_bench.py prints it for its target: reuse_fit) is within 7 % of every
 * layer's count on M4F and 3 % on M3 (fitted on one model: U, kernels and channels move together). The
 * AUTO choice then picks the measured faster path on all 7 layers on both cores: reuse on every layer on M4F
 * (layer1.conv1 the closest: reuse 4.63 M vs direct 5.28 M), direct on layer1.conv1 on M3.
 * Cortex-M4F refit for the kernels with interleaved channel pairs in the direct path's assembly dot product and the
 * one-multiply requantisation (both paths forced, no RAM limit, the 5-bit a/b K = 16 blob of docs/RESULTS.md
 * "int8 on a Cortex-M"; non-negative least squares on relative error over the 7 LinRep layers): direct within
 * 2.6 % of every layer, reuse within 6 %; the AUTO choice is the measured faster path on all 7 (direct on
 * layer1 and layer2, reuse on the stem and layer3). The portable constants are the earlier fit (RB 0).
 * Refit after the padded-plane 3 x 3 reuse path (every pixel through the column-word loop; the templates' loop
 * with one LDM per template), on three blobs so that U varies apart from the kernels and channels: the 5-bit a/b
 * bar blob at K = 16 global, per-layer codebooks with K = 8 and with K = Cout/8 (pack --scope layer
 * [--templates-ratio 0.125]), both paths forced, no RAM limit (mcu-bench --ram-limit -1); NNLS on relative error
 * over the 21 layers. M4F reuse: within 3.2 % of every layer; AUTO picks the measured faster path on all 21 (direct
 * on layer1 at K = 16 and 8, reuse elsewhere; at K = Cout/8 reuse on layer1 too). Cortex-M3 reuse: within 1.4 %;
 * its direct constants are the earlier fit scaled by 0.65 (then within 11.5 % of every layer); AUTO picks the
 * measured faster path on 20 of 21 (the miss: layer2.conv2 at K = 8, the paths 0.1 % apart).
 * Reuse refit after the template-stationary responses (column words in the preferred scratch), the job list of the
 * a' R + b' S step, two input channels a step (the b' pair times the S pair: one SMLAD), the two-pass decode and
 * the SMLAL / SSAT requantisation: the same three blobs and K = Cout/4 per layer on M4F (28 layers), the three on
 * M3 (21), no RAM limit. M4F: within 3.8 % of every layer, reuse now the faster path on all 28 and AUTO picks it;
 * M3: within 1.5 %, AUTO picks the measured faster path on all 21 (direct on layer1 and layer2 at K = 16, on
 * layer1 at K = 8).
 * Depthwise convs (one input and one output channel per group: DW8_*, in hundredths per output, output row and
 * channel) have terms of their own: the general ones, fitted on full convs, put mobilenet_v1_vww's depthwise LinRep
 * layers on template reuse where the direct path is up to 2.3x cheaper (the model 4.6x over the direct count and
 * 0.5x under reuse's). Fitted (non-negative least squares on relative error) on the 13 depthwise LinRep layers of
 * ds_cnn_kws, mobilenet_v1_vww and the SE net of tools/build_levels.py (zoo packing, K = 16), both paths forced, no
 * RAM limit, -O2: the direct path at stride 1 (3 x 3: the padded-plane kernel) within 5 % of every layer, at other
 * strides (3-wide kernels: chan3) within 0.4 %, reuse within 5 % (M4F); M3 within 2.2 %, 0.5 % and 2.2 % (its
 * stride-2 terms refitted on mobilenet_v1_vww's four layers after those ran per channel too: 4.1x fewer). AUTO then
 * picks the measured faster path on all 13 on both cores (direct, but reuse on three of M4F's four stride-2 layers,
 * where the paths are 1-8 % apart). Other depthwise kernels (5 x 5, dilated) keep the general direct terms.
 * Refitted (tools/dw_cost_fit.py, the same layers and runs) after the padded-plane kernel took whole rows and stride
 * 2 (DW8_Q_*, was chan3's C terms): M4F direct within 2.8 % (stride 1) and 0.7 % (stride 2), reuse 5 %; M3 2.4 %,
 * 1.5 %, 2.0 %; the direct path now the faster on all 13 on both cores (by 1.3-2.6x at stride 2), and AUTO takes it.
 * 5 x 5 and 7 x 7 depthwise convs (DW8_F_*: the padded-plane kernel lr_opt_plane_wide where the build has it, both
 * strides in one fit; DW8_S_*: template reuse; OUT per 5 x 5 output, a 7 x 7 one 49/25 of it), fitted the same way on
 * the 9 such layers of the int8 zoo's mobilenet_v3_small and mcunet_like (tools/dw_cost_fit.py --kernel wide ->
 * docs/bench/dw_cost_fit_wide.json): M4F direct within 7.7 %, reuse 10.7 %; M3 6.0 % and 7.8 % (reuse 3.3-8x the
 * direct path on every layer). Builds without the plane kernel (-Os, LR_PLANE_WIDE=0) run the direct path per channel
 * (lr_conv2d_channel_s8_opt): DW8_W_* for it and DW8_V_* for reuse, fitted the same way on the same layers at -Os
 * (tools/dw_cost_fit.py --kernel wide --opt=-Os -> docs/bench/dw_cost_fit_wide_os.json): M4F within 11.2 % and
 * 8.4 %, M3 11.2 % and 6.6 %; the direct path 1.5-2.7x faster than reuse on all 9 on both cores, which the general
 * terms and DW8_R_* (before this fit) had AUTO take. A -O2 build with LR_PLANE_WIDE=0 (written only for blobs without
 * such convs) takes the -Os terms too: both its paths are faster there, in about the same ratio. */
#ifndef LR_COST_DSP /* the constants of a core with the DSP extension; -DLR_COST_DSP=1 on the host: the plan such */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP /* a core makes (the offline plans export-project writes) */
#define LR_COST_DSP 1
#else
#define LR_COST_DSP 0
#endif
#endif
#if LR_COST_DSP /* Cortex-M4F's fit, taken for M7 and M33 too */
#define CI8_MAC 37u
#define CI8_COL 873u
#define CI8_OUT 8732u
#define CI8_RB 3591u
#define CI8_RK 483u
#define CI8_RU 812u
#define CI8_RC 1190u
#define CI8_ROUT 2117u
/* depthwise convs (one input and one output channel per group): per output, output row and channel */
#define DW8_P_OUT 3174u  /* direct, 3 x 3 stride 1: the padded-plane kernel */
#define DW8_P_ROW 4728u
#define DW8_P_CH 65688u
#define DW8_Q_OUT 3975u  /* direct, 3 x 3 stride 2: the padded-plane kernel */
#define DW8_Q_ROW 0u
#define DW8_Q_CH 95426u
#define DW8_C_OUT 8292u  /* direct, other 3-wide kernels: per channel from the input (chan3) */
#define DW8_C_ROW 25747u
#define DW8_C_CH 32258u
#define DW8_R_OUT 8544u  /* template reuse */
#define DW8_R_ROW 3235u
#define DW8_R_CH 86315u
#define DW8_F_OUT 5727u  /* direct, 5 x 5 and 7 x 7: the padded-plane kernel (lr_opt_plane_wide) */
#define DW8_F_ROW 19027u
#define DW8_F_CH 110282u
#define DW8_S_OUT 42683u  /* template reuse, 5 x 5 and 7 x 7 */
#define DW8_S_ROW 147890u
#define DW8_S_CH 0u
#define DW8_W_OUT 36958u  /* direct, 5 x 5 and 7 x 7 without the plane kernel: per channel (-Os fit) */
#define DW8_W_ROW 144327u
#define DW8_W_CH 0u
#define DW8_V_OUT 85408u  /* template reuse, 5 x 5 and 7 x 7, beside it (-Os fit) */
#define DW8_V_ROW 70406u
#define DW8_V_CH 0u
#else
#define CI8_RB 0u
#define CI8_MAC 168u
#define CI8_COL 1871u
#define CI8_OUT 8156u
#define CI8_RK 1017u
#define CI8_RU 6189u
#define CI8_RC 9391u
#define CI8_ROUT 2458u
#define DW8_P_OUT 6405u
#define DW8_P_ROW 9986u
#define DW8_P_CH 42977u
#define DW8_Q_OUT 7023u
#define DW8_Q_ROW 0u
#define DW8_Q_CH 102125u
#define DW8_C_OUT 11300u
#define DW8_C_ROW 14094u
#define DW8_C_CH 51461u
#define DW8_R_OUT 22332u
#define DW8_R_ROW 4030u
#define DW8_R_CH 82166u
#define DW8_F_OUT 12464u  /* direct, 5 x 5 and 7 x 7: the padded-plane kernel (lr_opt_plane_wide) */
#define DW8_F_ROW 61826u
#define DW8_F_CH 0u
#define DW8_S_OUT 57142u  /* template reuse, 5 x 5 and 7 x 7 */
#define DW8_S_ROW 127697u
#define DW8_S_CH 0u
#define DW8_W_OUT 37015u  /* direct, 5 x 5 and 7 x 7 without the plane kernel: per channel (-Os fit) */
#define DW8_W_ROW 144696u
#define DW8_W_CH 0u
#define DW8_V_OUT 95041u  /* template reuse, 5 x 5 and 7 x 7, beside it (-Os fit) */
#define DW8_V_ROW 67878u
#define DW8_V_CH 0u
#endif

/* The optimised direct path's work, walking its blocks as lr_linrep_conv2d_direct_s8_opt does: *macs (split
 * blocks twice) and *cols (im2col taps gathered). */
static void direct_s8_work(const lr_model *m, const lr_op *op, const lr_geom *c, uint64_t *macs, uint64_t *cols)
{
    lr_linrep_s8_params p;
    const uint32_t per = (uint32_t)(c->cin_g * c->kh * c->kw), px = (uint32_t)(c->oh * c->ow);
    const int32_t block = (int32_t)lr_direct_s8_block(per, (uint32_t)c->cout_g,
                                                      lr_linrep_conv2d_direct_s8_scratch(per, (uint32_t)c->cout_g));
    const unsigned char *mask;
    uint32_t kept = 0u;
    int32_t o0 = 0, o, i;
    lr_op_linrep_s8_params(m, op, &p);
    mask = p.lr.mask ? p.blob + p.lr.mask : NULL;
    *macs = 0u;
    *cols = 0u;
    while (o0 < c->oc) {
        const int32_t end = (o0 / c->cout_g + 1) * c->cout_g, nb = end - o0 < block ? end - o0 : block;
        const int32_t half = nb > 1 ? nb / 2 : 1;
        int fits = 1;
        for (o = o0; o < o0 + nb; o++) {
            const int32_t e = lr_s8(p.bexp[o]);
            const int64_t pa = (int64_t)1 << (e < 0 ? -e : 0), pb = (int64_t)1 << (e > 0 ? e : 0);
            for (i = 0; i < c->cin_g; i++) {
                int64_t a, b;
                if (!lr_kept(mask, (uint32_t)(o * c->cin_g + i))) {
                    continue;
                }
                a = lr_unpack_signed(p.blob + p.lr.abq, 2u * kept, p.lr.ab_bits) * pa;
                b = lr_unpack_signed(p.blob + p.lr.abq, 2u * kept + 1u, p.lr.ab_bits) * pb;
                fits &= (a < 0 ? -a : a) * 128 + (b < 0 ? -b : b) <= 32767;
                kept++;
            }
        }
        *macs = madd_sat(*macs, (uint64_t)(fits ? 1u : 2u) * (uint64_t)nb * per, px);
        *cols = madd_sat(*cols, (uint64_t)(fits ? 1 : (nb + half - 1) / half) * per, px);
        o0 += nb;
    }
}

/* x / 100 by long division in base 2^16 (each step a 32-bit division): no 64-bit division routine. */
static uint64_t div100(uint64_t x)
{
    uint64_t q = 0u;
    uint32_t r = 0u;
    int shift;
    for (shift = 48; shift >= 0; shift -= 16) {
        const uint32_t cur = (r << 16) | (uint32_t)((x >> shift) & 0xFFFFu); /* r < 100: no overflow */
        q = (q << 16) | (cur / 100u);
        r = cur % 100u;
    }
    return q;
}

/* out * outputs + row * output rows + ch * channels (hundredths): a depthwise estimate. */
static uint64_t dw_cost(const lr_geom *c, uint32_t out, uint32_t row, uint32_t ch)
{
    const uint64_t rows = (uint64_t)c->oc * (uint64_t)c->oh;
    return madd_sat(madd_sat(madd_sat(0u, out, rows * (uint64_t)c->ow), row, rows), ch, (uint64_t)c->oc);
}

/* The int8 estimates of direct_cost and reuse_cost (instructions), and the AUTO choice between them. Depthwise
 * convs (one input and one output channel per group) have their own terms (above): per channel, both paths pay
 * for what the general terms spread over many channels. */
static void cost_s8(const lr_model *m, const lr_op *op, const lr_geom *c, uint64_t u, lr_conv_cost *cost)
{
    const uint64_t px = (uint64_t)c->oh * (uint64_t)c->ow, outs = (uint64_t)c->oc * px;
    const int dw = c->cin_g == 1 && c->cout_g == 1, three = c->kw == 3 && c->dw == 1 && c->dh == 1;
    /* 5 x 5 and 7 x 7 depthwise convs (dilation 1): on the build's padded-plane kernel where it has one and takes the
     * shape (`plane`), else per channel (`chan`); both paths by their own terms */
    const int wide = dw && (c->kw == 5 || c->kw == 7) && c->kh == c->kw && c->dw == 1 && c->dh == 1;
#if LR_OPT_WIDE
    const int plane = wide && lr_conv2d_s8_opt_plane_words(c) != 0u;
#else
    const int plane = 0;
#endif
    const int chan = wide && !plane;
    const uint32_t taps = (uint32_t)(c->kh * c->kw); /* 25 or 49 where `wide` */
    uint64_t macs, cols;
    if (plane) {
        cost->direct_cost = dw_cost(c, DW8_F_OUT * taps / 25u, DW8_F_ROW, DW8_F_CH);
    } else if (chan) {
        cost->direct_cost = dw_cost(c, DW8_W_OUT * taps / 25u, DW8_W_ROW, DW8_W_CH);
    } else if (dw && three && c->kh == 3 && c->sh == 1 && c->sw == 1) {
        cost->direct_cost = dw_cost(c, DW8_P_OUT, DW8_P_ROW, DW8_P_CH);
    } else if (dw && three && c->kh == 3 && c->sh == 2 && c->sw == 2) {
        cost->direct_cost = dw_cost(c, DW8_Q_OUT, DW8_Q_ROW, DW8_Q_CH);
    } else if (dw && three) {
        cost->direct_cost = dw_cost(c, DW8_C_OUT, DW8_C_ROW, DW8_C_CH);
    } else {
        direct_s8_work(m, op, c, &macs, &cols);
        cost->direct_cost = madd_sat(madd_sat(madd_sat(madd_sat(0u, CI8_MAC, macs), CI8_COL, cols), CI8_OUT, outs),
                                     CI8_RB, (uint64_t)c->oc * (uint64_t)c->cin_g * (uint64_t)c->kh * (uint64_t)c->kw);
    }
    cost->direct_cost = div100(cost->direct_cost);
    cost->reuse_cost = plane ? dw_cost(c, DW8_S_OUT * taps / 25u, DW8_S_ROW, DW8_S_CH)
                       : chan ? dw_cost(c, DW8_V_OUT * taps / 25u, DW8_V_ROW, DW8_V_CH)
                       : dw ? dw_cost(c, DW8_R_OUT, DW8_R_ROW, DW8_R_CH)
                          : madd_sat(madd_sat(madd_sat(madd_sat(0u, CI8_RK, (uint64_t)cost->kernels * px), CI8_RU,
                                                       madd_sat(0u, u, px)), CI8_RC, (uint64_t)c->c * px),
                                     CI8_ROUT, outs);
    cost->reuse_cost = div100(cost->reuse_cost);
    cost->path = cost->reuse_cost < cost->direct_cost ? LR_PATH_REUSE : LR_PATH_DIRECT;
}
#endif

void lr_conv_cost_of(const lr_model *m, const lr_op *op, lr_conv_cost *cost)
{
    lr_geom c;
    lr_linrep_params p;
    uint64_t n, taps, px, kk, u, box, common, kept;
    int32_t th;
    memset(cost, 0, sizeof *cost);
    if (op->type != LR_OP_TYPE_CONV2D && op->type != LR_OP_TYPE_LINREP_CONV2D) {
        return;
    }
    /* a build without LinRep convs (LR_OPS; lr_init refuses them) keeps only the dense conv's part below */
    lr_op_geom(m, op, &c);
    n = (uint64_t)c.oc * (uint64_t)c.cin_g; /* verified: <= LR_MAX_NUMEL, as are px and Cout * px */
    px = (uint64_t)c.oh * (uint64_t)c.ow;
    kk = (uint64_t)c.kh * (uint64_t)c.kw;
    taps = valid_taps(&c);
    common = 3u * (uint64_t)c.oc * px; /* zero the output, add the bias */
    cost->kernels = (uint32_t)n;
    cost->path = LR_PATH_DIRECT;
    if (op->type != LR_OP_TYPE_LINREP_CONV2D || !LR_OP_ON(LR_OP_TYPE_LINREP_CONV2D)) {
        cost->direct_macs = madd_sat(0u, n, taps);
        cost->direct_words = madd_sat(common, 3u * n, taps);
        cost->direct_cost = madd_sat(cost->direct_macs, 1u, cost->direct_words);
        return;
    }
    lr_op_linrep_params(m, op, &p);
    cost->direct_macs = madd_sat(n * kk, n, taps);
    cost->direct_words = madd_sat(common + 2u * n * kk, 3u * n, taps);
    cost->direct_cost = madd_sat(cost->direct_macs, 1u, cost->direct_words);
    if (p.lr.mask != 0u && !LR_IS_INT8(m)) {
        return; /* fp32 pruned layers: direct path only (int8 reuse skips pruned kernels) */
    }
    u = templates_used(&c, &p, &kept);
    cost->templates_used = (uint32_t)u; /* u <= n */
    box = madd_sat(0u, (uint64_t)c.c, (uint64_t)c.h * (uint64_t)c.w + 2u * (uint64_t)c.h * (uint64_t)c.ow + px);
    cost->reuse_macs = madd_sat(madd_sat(box, u, taps), 2u * kept, px);
    cost->reuse_words = madd_sat(madd_sat(madd_sat(common + p.k, 3u * u, taps), 4u * kept, px), 2u, box);
    cost->reuse_cost = madd_sat(cost->reuse_macs, 1u, cost->reuse_words);
    if (LR_IS_INT8(m)) { /* int8: one output row at a time, int32 words */
        cost->reuse_scratch_bytes = madd_sat(0u, lr_linrep_conv2d_reuse_s8_scratch(&c, p.k), 4u);
        cost->tile_rows = 1u;
    } else {
        cost->reuse_scratch_bytes = madd_sat(0u, lr_linrep_conv2d_reuse_scratch(&c, p.k, &th), 4u);
        cost->tile_rows = (uint32_t)th;
    }
    if (cost->reuse_cost < cost->direct_cost) {
        cost->path = LR_PATH_REUSE; /* the AUTO choice */
    }
#if LR_INT8 && LR_OPT_ON(LR_OPT_LINREP)
    if (LR_IS_INT8(m)) {
        cost_s8(m, op, &c, u, cost); /* the optimised int8 kernels' calibrated instruction counts */
    }
#endif
}

#if defined(__GNUC__)
#define LR_COST_NOINLINE __attribute__((noinline))
#else
#define LR_COST_NOINLINE
#endif

/* The number of templates in a LinRep op's codebook (out of line: the planner's scratch sizing calls it with
 * the plan records on the stack, and its readers' records then stay off the deeper calls' frames). */
static LR_COST_NOINLINE uint32_t codebook_k(const lr_model *m, const lr_op *op)
{
    lr_linrep lr;
    lr_codebook cb;
    lr_read_linrep(m, op->linrep, &lr);
    lr_read_codebook(m, (uint32_t)lr.codebook, &cb);
    return (uint32_t)cb.k;
}

/* The reuse kernel's scratch floats (int32 words for int8 models) of a LinRep op with k templates, preferred
 * (returned) and least (*least: the int8 kernels, optimised and reference, run on any scratch from one output
 * row's up; the fp32 kernel needs the preferred size). */
static LR_COST_NOINLINE uint64_t reuse_floats_least(const lr_model *m, const lr_op *op, uint32_t k, uint64_t *least)
{
    lr_geom c;
    uint64_t pref;
    lr_op_geom(m, op, &c);
    pref = LR_IS_INT8(m) ? lr_linrep_conv2d_reuse_s8_scratch(&c, k) : lr_linrep_conv2d_reuse_scratch(&c, k, NULL);
    *least = pref;
    if (LR_IS_INT8(m)) {
        const uint64_t lo = lr_linrep_conv2d_reuse_s8_scratch_least(&c, k);
        *least = lo < pref ? lo : pref;
    }
    return pref;
}

/* The reuse kernel's preferred scratch words (floats) of op. */
static uint64_t reuse_floats(const lr_model *m, const lr_op *op)
{
    uint64_t least;
    return reuse_floats_least(m, op, codebook_k(m, op), &least);
}

int lr_op_can_reuse(const lr_model *m, const lr_op *op)
{
    lr_linrep lr;
    if (op->type != LR_OP_TYPE_LINREP_CONV2D || !LR_REUSE_ON || !LR_OP_ON(LR_OP_TYPE_LINREP_CONV2D)) {
        return 0;
    }
    lr_read_linrep(m, op->linrep, &lr);
    /* fp32 pruned kernels: the direct path, which skips them, even when reuse is forced (a build without the
     * direct path refuses them: lr_verify.c) */
    return lr.mask == 0u || LR_IS_INT8(m);
}

int lr_op_prefers_reuse(const lr_model *m, const lr_op *op, uint32_t path)
{
    lr_conv_cost cost;
    if (path == LR_PATH_DIRECT || !lr_op_can_reuse(m, op)) {
        return 0;
    }
    if (path == LR_PATH_REUSE || !LR_DIRECT_ON) {
        return 1; /* forced, or the only path compiled in (LR_LINREP_PATHS) */
    }
    lr_conv_cost_of(m, op, &cost);
    return cost.path == LR_PATH_REUSE && reuse_floats(m, op) <= LR_MAX_NUMEL; /* AUTO: never fails */
}

int lr_op_act_table(const lr_model *m, const lr_op *op)
{
#if LR_ACT_TABLE_ON
    int32_t dims[LR_MAX_RANK];
    uint32_t inner;
    if (!LR_IS_INT8(m) || !LR_OP_ON(op->type)) {
        return 0;
    }
    (void)lr_tensor_shape(m, (uint32_t)lr_op_input(m, op, 0u), dims);
    inner = lr_tensor_numel(m, (uint32_t)op->output) / (uint32_t)dims[0]; /* verified: dims[0] >= 1 */
    switch (op->type) {
    case LR_OP_TYPE_PRELU: /* [zp_alpha, slopes]: a slope per channel takes a table per channel */
        if (op->n_qp != 2u) {
            return inner >= LR_ACT_S8_TAB_MIN;
        }
        break;
    case LR_OP_TYPE_MUL: /* by a gate of one value per channel ([c], [c][1][1]): a table per channel */
        return lr_tensor_numel(m, (uint32_t)lr_op_input(m, op, 1u)) != lr_tensor_numel(m, (uint32_t)op->output) &&
               (!LR_OP_ON(LR_OP_TYPE_MUL) || !lr_mul_per_pixel(m, op)) && inner >= LR_ACT_S8_TAB_MIN;
    case LR_OP_TYPE_AFFINE: /* a weight, bias and multiplier per channel: a table per channel */
        return inner >= LR_ACT_S8_TAB_MIN;
    case LR_OP_TYPE_SIGMOID:
    case LR_OP_TYPE_TANH:
    case LR_OP_TYPE_HARDSWISH:
    case LR_OP_TYPE_HARDSIGMOID:
    case LR_OP_TYPE_SILU:
    case LR_OP_TYPE_LEAKY_RELU:
    case LR_OP_TYPE_RELU:
    case LR_OP_TYPE_RELU6:
    case LR_OP_TYPE_CLAMP:
        break;
    default:
        return 0;
    }
    return lr_tensor_numel(m, (uint32_t)op->output) >= LR_ACT_S8_TAB_MIN;
#else
    (void)m;
    (void)op;
    return 0;
#endif
}

void lr_op_scratch(const lr_model *m, const lr_op *op, uint32_t path, int reuse, lr_scratch_need *need)
{
    const uint32_t per = (uint32_t)op->kh * (uint32_t)op->kw; /* times cin_g below */
    int32_t dims[LR_MAX_RANK];
    memset(need, 0, sizeof *need);
    if (op->type == LR_OP_TYPE_CONV_TRANSPOSE2D && LR_IS_INT8(m)) {
        /* int8 transposed conv: one output channel's int32 accumulators (lr_conv_transpose2d_s8_ref), and for
         * LinRep one kernel's integers after them (lr_linrep_conv_transpose2d_s8_ref) */
        (void)lr_tensor_shape(m, (uint32_t)op->output, dims);
        need->lo = 4u * ((uint64_t)dims[1] * (uint64_t)dims[2] + (op->linrep != 0u ? per : 0u));
        need->hi = need->lo;
#if LR_INT8 && LR_OPT_ON(LR_OPT_LINREP)
        if (LR_OP_ON(LR_OP_TYPE_CONV_TRANSPOSE2D) && op->linrep != 0u) {
            /* optimised (lr_conv_transpose2d_s8_opt.c), where the arena has room: an output channel's kernels
             * rebuilt once, after the plane (else once per tap) */
            lr_geom c;
            lr_op_geom(m, op, &c);
            need->hi = 4u * lr_conv_transpose2d_s8_opt_scratch(&c, 1);
            need->hi = need->hi > need->lo ? need->hi : need->lo;
        }
#endif
        return;
    }
    if (op->type == LR_OP_TYPE_CONV_TRANSPOSE2D && op->linrep != 0u) {
        /* LinRep transposed conv (fp32 only): the decoded codebook, then one input channel's kernels */
        need->lo = 4u * ((uint64_t)codebook_k(m, op) + (uint64_t)(op->out_ch / op->groups)) * per;
        need->hi = need->lo;
        return;
    }
#if LR_INT8 && LR_OPT_ON(LR_OPT_ADD)
    if (op->type == LR_OP_TYPE_ADD && LR_IS_INT8(m)) {
        /* int8 elementwise ADD, optimised: both inputs' rescaled values tabulated (lr_add_s8_opt_n), where the
         * arena has room (none least) and the tensor is big enough for the table to pay */
        const uint32_t n0 = lr_tensor_numel(m, (uint32_t)op->output);
        const uint32_t n1 = lr_tensor_numel(m, (uint32_t)lr_op_input(m, op, 1u));
        need->hi = n1 == n0 && n0 >= LR_ADD_S8_TAB_MIN ? 4u * (uint64_t)LR_ADD_S8_TAB_WORDS : 0u;
        return;
    }
#endif
    if (lr_op_act_table(m, op)) { /* an op by table (lr_table_s8_opt), where the arena has room (none least) */
        need->hi = LR_ACT_S8_TAB_BYTES;
        return;
    }
    if (op->type != LR_OP_TYPE_CONV2D && !(op->type == LR_OP_TYPE_LINREP_CONV2D && LR_OP_ON(LR_OP_TYPE_LINREP_CONV2D))) {
        return; /* no other op takes scratch (nor LinRep convs in a build without them: lr_init refuses them) */
    }
    (void)lr_tensor_shape(m, (uint32_t)lr_op_input(m, op, 0u), dims);
    {
        const uint64_t kk = (uint64_t)per * (uint64_t)(dims[0] / op->groups); /* cin_g * kh * kw: verified */
        if (op->type == LR_OP_TYPE_CONV2D || !LR_OP_ON(LR_OP_TYPE_LINREP_CONV2D)) {
            /* fp32 weights: none; fp16 / int8 weights of one output channel as fp32; int8 models: one output
             * channel's weights as int32 (reference) or two int16 columns (optimised) */
            need->lo = LR_IS_INT8(m) || op->dtype != LR_DTYPE_F32 ? 4u * kk : 0u;
#if LR_INT8 && LR_OPT_ON(LR_OPT_CONV)
            if (LR_IS_INT8(m)) { /* one input channel per group, 3 x 3, kh x 5 or kh x 7: its padded plane, if room */
                lr_geom c;
                lr_op_geom(m, op, &c);
                need->hi = 4u * lr_conv2d_s8_opt_plane_words(&c);
            }
#endif
        } else if (LR_IS_INT8(m)) {
            need->lo = 4u * lr_linrep_conv2d_direct_s8_scratch_min((uint32_t)kk);
#if LR_OPT_ON(LR_OPT_LINREP)
            { /* the optimised kernel's preference (a padded plane for depthwise 3 x 3, 5 x 5 and 7 x 7 convs) */
                lr_geom c;
                lr_op_geom(m, op, &c);
                need->hi = 4u * lr_linrep_conv2d_direct_s8_scratch_pref(&c);
            }
#else
            need->hi = 4u * lr_linrep_conv2d_direct_s8_scratch((uint32_t)kk, (uint32_t)(op->out_ch / op->groups));
#endif
        } else {
            need->lo = 4u * ((uint64_t)codebook_k(m, op) * per + kk); /* the decoded codebook, one channel's kernels */
        }
    }
    need->hi = need->hi > need->lo ? need->hi : need->lo;
    if (reuse && LR_OP_ON(LR_OP_TYPE_LINREP_CONV2D)) {
        need->reuse = 4u * reuse_floats_least(m, op, codebook_k(m, op), &need->reuse_lo);
        need->reuse_lo *= 4u;
        need->must_reuse = path == LR_PATH_REUSE || !LR_DIRECT_ON; /* no direct path to fall back to */
    }
}
