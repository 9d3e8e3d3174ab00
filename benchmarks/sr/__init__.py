"""Helpers of the symbolic-regression recovery benchmark (``python -m benchmarks.sr_recovery``)."""
