"""Benchmarks against peer libraries; run with ``nox -s bench`` or ``python3 dev.py bench``."""
