"""Audio front ends: MFCC exactly as CMSIS-DSP's arm_mfcc_f32 (float) and arm_mfcc_q15 (bit-exact)."""
from .mfcc import MfccConfig, cmsis_tables, frames, mfcc_f32, mfcc_f32_frames, mfcc_q15, mfcc_q15_frames

__all__ = ["MfccConfig", "cmsis_tables", "frames", "mfcc_f32", "mfcc_f32_frames", "mfcc_q15",
           "mfcc_q15_frames"]
