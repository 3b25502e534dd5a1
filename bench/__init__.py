"""Benchmarks: each inferq figure beside a reference measured in the same run."""
