"""arm_relu_q15: tested together with arm_relu_q7 in test_arm_relu_q7.py (one parametrized body)."""
