"""Benchmarks for lognet, run as modules from the repository root (``python -m benchmarks.<module>``)."""
