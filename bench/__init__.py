"""Benchmarks, one command each (``python -m bench.<name> --help``); figures in BENCHMARKS.md."""
