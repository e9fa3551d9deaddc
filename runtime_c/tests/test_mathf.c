/*
 * test_mathf.c -- lr_expf, lr_expm1f, lr_tanhf, lr_log1pf, lr_erfcf (kernels/ref/lr_math_f32_ref.c) against the C
 * library's exp, expm1, tanh, log1p and erfc in double, rounded once: every 7th binary32 bit pattern of each sign
 * over the range where the result is neither 0, +-1 nor infinite (log1p and erfc: every 127th), then the edges
 * (zeros, subnormals, the overflow and underflow thresholds, infinities, NaN). Errors in ulps of the correctly
 * rounded result; bounds: the measured maxima (1.02, 1.73, 2.40; log1p 2.13, erfc 7.60: the fit's own error) with
 * about one ulp to spare. And RESIZE nearest's source indices (kernels/lr_kernels.h, integer arithmetic) against
 * the float32 formula they reproduce.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kernels/lr_kernels.h"
#include "test_util.h"

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* |got - want| in units of the last place of want (the exact value rounded to binary32). */
static double ulps(float got, double exact)
{
    const float want = (float)exact;
    int e;
    if (got == want) {
        return 0.0;
    }
    if (isinf(want) || isinf(got)) {
        return 1e9;
    }
    (void)frexp(want == 0.0f ? FLT_MIN : (double)want, &e);
    if (e - 24 < -149) {
        e = -149 + 24; /* subnormal results: the ulp is 2^-149 */
    }
    return fabs((double)got - exact) / ldexp(1.0, e - 24);
}

typedef float (*fn32)(float);
typedef double (*fn64)(double);

/* Largest error over every `step`-th pattern with magnitude from `lo` to `hi` (bit patterns), both signs. */
static double sweep(fn32 f, fn64 ref, uint32_t lo, uint32_t hi, uint32_t step)
{
    double worst = 0.0;
    uint32_t u, s;
    for (s = 0; s < 2; s++) {
        for (u = lo; u <= hi; u += step) {
            const float x = from_bits(u | (s << 31));
            const double e = ulps(f(x), ref((double)x));
            if (e > worst) {
                worst = e;
            }
        }
    }
    return worst;
}

int main(void)
{
    const float nan = from_bits(0x7FC00000u), inf = from_bits(0x7F800000u);
    /* 2^-30 .. 104 (0x42D00000): below, exp(x) = 1 + x to within half an ulp; above, 0 or inf */
    const double e_exp = sweep(lr_expf, exp, 0x30800000u, 0x42D00000u, 7u);
    const double e_expm1 = sweep(lr_expm1f, expm1, 0x00000001u, 0x42D00000u, 7u);
    const double e_tanh = sweep(lr_tanhf, tanh, 0x00000001u, 0x41200000u, 7u); /* to 10: beyond, +-1 */
    printf("max error: expf %.2f ulp, expm1f %.2f ulp, tanhf %.2f ulp\n", e_exp, e_expm1, e_tanh);
    TU_CHECK(e_exp <= 2.0);
    TU_CHECK(e_expm1 <= 3.0);
    TU_CHECK(e_tanh <= 3.5);

    {
        /* log1p: every 127th pattern above -1 (magnitudes to just below 1 negative, to FLT_MAX positive); erfc:
         * both signs up to 10 (beyond, 0 or 2) */
        double e_log1p = 0.0, e_erfc = 0.0, e;
        uint32_t u;
        for (u = 1u; u < 0x7F800000u; u += 127u) {
            const float x = from_bits(u), xn = from_bits(u | 0x80000000u);
            e = ulps(lr_log1pf(x), log1p((double)x));
            e_log1p = e > e_log1p ? e : e_log1p;
            if (u < 0x3F800000u) {
                e = ulps(lr_log1pf(xn), log1p((double)xn));
                e_log1p = e > e_log1p ? e : e_log1p;
            }
            if (u <= 0x41200000u) {
                e = ulps(lr_erfcf(x), erfc((double)x));
                e_erfc = e > e_erfc ? e : e_erfc;
                e = ulps(lr_erfcf(xn), erfc((double)xn));
                e_erfc = e > e_erfc ? e : e_erfc;
            }
        }
        printf("max error: log1pf %.2f ulp, erfcf %.2f ulp\n", e_log1p, e_erfc);
        TU_CHECK(e_log1p <= 3.5);
        TU_CHECK(e_erfc <= 9.0);
        TU_CHECK(lr_log1pf(0.0f) == 0.0f && signbit(lr_log1pf(-0.0f)) && isinf(lr_log1pf(-1.0f)) &&
                 lr_log1pf(-1.0f) < 0.0f && isnan(lr_log1pf(-2.0f)) && isnan(lr_log1pf(nan)) &&
                 isinf(lr_log1pf(inf)) && lr_log1pf(1e-30f) == 1e-30f);
        TU_CHECK(lr_erfcf(0.0f) == 1.0f && lr_erfcf(inf) == 0.0f && lr_erfcf(-inf) == 2.0f && isnan(lr_erfcf(nan)) &&
                 lr_erfcf(11.0f) == 0.0f && lr_erfcf(-11.0f) == 2.0f);
    }
    TU_CHECK(lr_expf(0.0f) == 1.0f && lr_expf(-0.0f) == 1.0f && lr_expf(1.0f) == (float)exp(1.0));
    TU_CHECK(lr_expf(88.7228f) <= FLT_MAX && lr_expf(88.7228f) > 3.4e38f);
    TU_CHECK(isinf(lr_expf(88.7229f)) && isinf(lr_expf(inf)) && lr_expf(inf) > 0.0f);
    TU_CHECK(lr_expf(-103.2789f) == from_bits(1u)); /* 2^-149 */
    TU_CHECK(lr_expf(-104.0f) == 0.0f && lr_expf(-inf) == 0.0f);
    TU_CHECK(isnan(lr_expf(nan)) && isnan(lr_expm1f(nan)) && isnan(lr_tanhf(nan)));
    TU_CHECK(lr_expm1f(-inf) == -1.0f && isinf(lr_expm1f(inf)) && lr_expm1f(-20.0f) == -1.0f);
    TU_CHECK(lr_expm1f(from_bits(1u)) == from_bits(1u) && lr_expm1f(-0.0f) == 0.0f && signbit(lr_expm1f(-0.0f)));
    TU_CHECK(lr_tanhf(inf) == 1.0f && lr_tanhf(-inf) == -1.0f && lr_tanhf(9.0f) == 1.0f && lr_tanhf(-8.5f) > -1.0f);
    TU_CHECK(signbit(lr_tanhf(-0.0f)) && lr_tanhf(1e-30f) == 1e-30f);
    {
        /* RESIZE nearest to any size (lr_nearest_src, integer arithmetic) against the float32 formula torch and TFLite
         * evaluate, min(floor((float)dst * ((float)in / (float)out)), in - 1): every dst for in, out <= 300, then
         * sizes up to 65535 (a stride of 9973 through the pairs; every 13th dst of a longer output) */
        uint32_t in, out, bad = 0u, pairs = 0u;
        for (in = 1u; in <= 65535u; in = in < 300u ? in + 1u : in + 9973u) {
            for (out = 1u; out <= 65535u; out = out < 300u ? out + 1u : out + 9973u) {
                lr_nearest_axis a;
                int32_t dst;
                volatile float ratio = (float)in / (float)out; /* volatile: each step rounded to float32 */
                lr_nearest_axis_init(&a, (int32_t)in, (int32_t)out, 1);
                for (dst = 0; dst < (int32_t)out; dst += out <= 300u ? 1 : 13) {
                    volatile float prod = (float)dst * ratio;
                    const int32_t k = (int32_t)floorf(prod), want = k < (int32_t)in - 1 ? k : (int32_t)in - 1;
                    bad += lr_nearest_src(&a, dst) != want ? 1u : 0u;
                }
                pairs++;
            }
        }
        printf("nearest any size: %u (in, out) pairs, %u source indices differ from float32\n", pairs, bad);
        TU_CHECK(bad == 0u);
    }
    return tu_report("test_mathf");
}
