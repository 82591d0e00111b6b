"""Benchmarks: nnfunc against a hand-written numpy loop, scikit-learn, PyTorch and the BLAS limit.

Run `python -m benchmarks.run` (or `--quick` for a smoke run); see benchmarks/README.md.
"""
