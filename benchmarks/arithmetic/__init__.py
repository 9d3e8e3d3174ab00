"""Arithmetic extrapolation benchmark: lognet against NAC, NALU, NAU/NMU, iNALU, NPU, RealNPU and an MLP."""
