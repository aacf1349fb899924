/* qsim stand-in for CMSIS-NN's arm_nn_activations_q15.c -- NOT CMSIS.
 * Written by qsim from its own documented semantics (cmsis-nn-legacy-semantics.md §5.2, §5.4, §10), without
 * Arm's code. Agreement with qsim's simulator is never proof of parity with the real library.
 */
#include "qsim_standin.h"

/* Linear interpolation between table entries, sh = 11 - int_width, F = 2^sh, frac = x mod F,
 * h = x >> sh:
 *   5.9.0: i0 = h mod 256; h == 127 -> T[i0]; else i16(((F - frac)*T[i0] + frac*T[i0+1 mod 256]) >> sh)
 *   5.7.0: i0 = usat8(h), i1 = usat8(h + 1) (clamped, so negative inputs all give T[0]).
 * int_width > 3 is undefined in CMSIS; here it leaves the data unchanged. */
void arm_nn_activations_direct_q15(q15_t *data, uint16_t size, uint16_t int_width,
                                   arm_nn_activation_type type)
{
    const q15_t *table = qs_table_q15((int)type);
    uint16_t sh, i;
    int32_t full;
    if (int_width > 3) {
        return;
    }
    sh = (uint16_t)(11 - int_width);
    full = INT32_C(1) << sh;
    for (i = 0; i < size; i++) {
        int32_t x = data[i];
        int32_t frac = x & (full - 1);
        int32_t h = qs_asr(x, sh);
        int32_t lo, hi;
#ifdef QSIM_STANDIN_CMSIS_570
        lo = table[qs_usat(h, 8)];
        hi = table[qs_usat(h + 1, 8)];
#else
        if (h == 127) {
            data[i] = table[127];
            continue;
        }
        lo = table[h & 0xFF];
        hi = table[(h + 1) & 0xFF];
#endif
        data[i] = (q15_t)qs_i16(qs_asr((full - frac) * lo + frac * hi, sh));
    }
}
