"""Load benchmarks: the chat server against a bare WebSocket echo server, in the same run.

`python -m bench` (or `make bench`) runs the standard set and writes `bench/results/`.
See docs/performance.md for what each scenario measures and the latest figures.
"""
