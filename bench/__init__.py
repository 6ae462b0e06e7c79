"""Benchmarks; each script writes its own section of docs/RESULTS.md."""
