"""Benchmarks behind `linrep-edge bench ...`: each prints a table (or --json) of measured figures."""
