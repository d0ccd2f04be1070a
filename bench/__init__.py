"""Benchmarks; run one with `python -m bench.<name>` (see `make bench`)."""
