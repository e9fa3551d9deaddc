/*
 * lr_add_s8_opt.c -- ADD of an int8 model, optimised (equal to lr_add_s8_ref bit for bit).
 *
 * Each input's rescaling, RDBPOT(SRDHM((x - zp) * 2^20, M), e), is exact in 32-bit arithmetic: with
 * d = x - zp (|d| <= 255) and M = Mh * 2^11 + Ml (0 <= Ml < 2^11),
 *     SRDHM(d * 2^20, M) = floor((d M 2^20 + 2^30) / 2^31) = floor((d M + 2^10) / 2^11)
 *                        = d Mh + floor((d Ml + 2^10) / 2^11)
 * (|d Mh| < 2^28, |d Ml| < 2^19: no 64-bit product; SRDHM's saturating case needs d * 2^20 = INT32_MIN,
 * impossible), then RDBPOT(h, e) = floor((h + 2^(e-1) - [h < 0]) / 2^e) for e >= 1 (h itself for e = 0).
 * Multipliers below 2^11 (never TFLite's: they are normalised to [2^30, 2^31)) take the reference.
 * The output's rescaling of the sum is lr_opt_requant (one 64-bit multiply-add). The verifier keeps every
 * multiplier >= 0 and every ADD shift in [-31, 0].
 * lr_add_s8_opt_n, given 512 words of scratch, first tabulates each input's rescaled value for all 256 int8s (the
 * same in_scale), so that an element costs two table loads, the sum's requantisation and the clamp.
 */
#include "kernels/lr_opt_s8.h"

/* One input's constants: M = mh * 2^11 + ml, e = -shift, written for x itself (d = x - zp):
 *     h + 2^(e-1) = x mh + c1 + floor((x ml + c2) / 2^11),  c1 = 2^(e-1) - zp mh, c2 = 2^10 - zp ml,
 * and h < 0 iff d < 0 (M >= 2^11: d M + 2^10 >= 2^10 for d >= 0, <= -2^10 for d <= -1), so the rounding's
 * -[h < 0] is the sign word of x - zps, zps = zp for e >= 1 and -128 for e = 0 (no rounding: x + 128 >= 0). */
typedef struct in_rq {
    int32_t mh, ml, c1, c2, zps, e;
} in_rq;

static void in_set(in_rq *r, int32_t mult, int32_t shift, int32_t zp)
{
    r->mh = lr_opt_asr(mult, 11);
    r->ml = mult & 2047;
    r->e = -shift;
    r->c1 = (r->e > 0 ? (int32_t)1 << (r->e - 1) : 0) - zp * r->mh;
    r->c2 = 1024 - zp * r->ml;
    r->zps = r->e > 0 ? zp : -128;
}

static inline int32_t in_scale(int32_t x, const in_rq *r)
{
    return lr_opt_asr(x * r->mh + r->c1 + lr_opt_asr(x * r->ml + r->c2, 11) + lr_opt_asr(x - r->zps, 31), r->e);
}

/* The constants of an ADD the fast loops take (0: a multiplier below 2^11, an output shift >= 0, or not a verified
 * ADD: the reference). */
static int add_setup(const lr_add_s8_params *p, in_rq *ra, in_rq *rb, lr_opt_rq *ro)
{
    lr_opt_rq_set(ro, p->mult[2], p->shift[2], p->zp_out, p->act_min, p->act_max);
    if (p->shift[0] > 0 || p->shift[0] < -31 || p->shift[1] > 0 || p->shift[1] < -31 || p->mult[0] < 2048 ||
        p->mult[1] < 2048 || ro->sh < 0) {
        return 0;
    }
    in_set(ra, p->mult[0], p->shift[0], p->zp0);
    in_set(rb, p->mult[1], p->shift[1], p->zp1);
    return 1;
}

void lr_add_s8_opt(const int8_t *a, const int8_t *b, uint32_t n, const lr_add_s8_params *p, int8_t *y)
{
    in_rq ra, rb;
    lr_opt_rq ro;
    uint32_t i;
    if (!add_setup(p, &ra, &rb, &ro)) {
        lr_add_s8_ref(a, b, n, p, y);
        return;
    }
    for (i = 0; i < n; i++) {
        int32_t v = lr_opt_mbqm_zp(in_scale(a[i], &ra) + in_scale(b[i], &rb), &ro);
        v = v < ro.lo ? ro.lo : v;
        y[i] = (int8_t)(v > ro.hi ? ro.hi : v);
    }
}

void lr_add_s8_opt_n(const int8_t *a, const int8_t *b, uint32_t n, const lr_add_s8_params *p, int32_t *tab,
                     uint32_t words, int8_t *y)
{
    in_rq ra, rb;
    lr_opt_rq ro;
    const int32_t *ta = tab + 128, *tb = tab + 384;
    uint32_t i;
    int32_t x;
    if (words < LR_ADD_S8_TAB_WORDS || !add_setup(p, &ra, &rb, &ro)) {
        lr_add_s8_opt(a, b, n, p, y);
        return;
    }
    for (x = -128; x < 128; x++) { /* every int8's rescaled value, once per call */
        tab[x + 128] = in_scale((int8_t)x, &ra);
        tab[x + 384] = in_scale((int8_t)x, &rb);
    }
    for (i = 0; i < n; i++) {
        int32_t v = lr_opt_mbqm_zp(ta[a[i]] + tb[b[i]], &ro);
        v = v < ro.lo ? ro.lo : v;
        y[i] = (int8_t)(v > ro.hi ? ro.hi : v);
    }
}
