"""Benchmarks: ``python -m experiments.bench <name>``; each prints one JSON object last."""
