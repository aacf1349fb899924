/* qsim stand-in for CMSIS-NN's arm_nntables.c -- NOT CMSIS.
 * Written by qsim from its own documented semantics (cmsis-nn-legacy-semantics.md §5.2), without
 * Arm's code. Agreement with qsim's simulator is never proof of parity with the real library.
 */
#include "qsim_standin.h"
#include <math.h>

/* Entry i stands for t = s/16 with s = i for i < 128 and i - 256 otherwise; its value is
 * floor(f(t) * 2^B + 0.5) clamped to [-2^B, 2^B - 1], B = 7 (q7) or 15 (q15), f = logistic sigmoid
 * or tanh written as (e^2t - 1)/(e^2t + 1). The notes report that IEEE double evaluation reproduces
 * the tables exactly; the tables are built here on first use instead of being stored. */
static q7_t qs_sigmoid_q7[256], qs_tanh_q7[256];
static q15_t qs_sigmoid_q15[256], qs_tanh_q15[256];
static int qs_tables_ready;

static int32_t qs_quantize(double f, int frac_bits)
{
    double scaled = floor(f * (double)(INT32_C(1) << frac_bits) + 0.5);
    double hi = (double)((INT32_C(1) << frac_bits) - 1);
    double lo = -(double)(INT32_C(1) << frac_bits);
    return (int32_t)(scaled > hi ? hi : (scaled < lo ? lo : scaled));
}

static void qs_build_tables(void)
{
    int i;
    for (i = 0; i < 256; i++) {
        double t = (double)(i < 128 ? i : i - 256) / 16.0;
        double sig = 1.0 / (1.0 + exp(-t));
        double e2 = exp(2.0 * t);
        double tnh = (e2 - 1.0) / (e2 + 1.0);
        qs_sigmoid_q7[i] = (q7_t)qs_quantize(sig, 7);
        qs_tanh_q7[i] = (q7_t)qs_quantize(tnh, 7);
        qs_sigmoid_q15[i] = (q15_t)qs_quantize(sig, 15);
        qs_tanh_q15[i] = (q15_t)qs_quantize(tnh, 15);
    }
    qs_tables_ready = 1;
}

const q7_t *qs_table_q7(int type)
{
    if (!qs_tables_ready) {
        qs_build_tables();
    }
    return type == ARM_SIGMOID ? qs_sigmoid_q7 : qs_tanh_q7;
}

const q15_t *qs_table_q15(int type)
{
    if (!qs_tables_ready) {
        qs_build_tables();
    }
    return type == ARM_SIGMOID ? qs_sigmoid_q15 : qs_tanh_q15;
}
