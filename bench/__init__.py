"""Benchmarks of the validator's hot path, each printed next to a baseline measured in the same run.

Run with ``make bench`` (or ``python -m bench``). Timings are never asserted: the machine is shared
and noisy, so every number is a best-of / median over repeats and is read as a ratio against a
baseline taken moments before or after it.
"""
