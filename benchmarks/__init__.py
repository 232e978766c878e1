"""Benchmark scripts (run by hand, never by the tests); results in RESULTS.md."""
