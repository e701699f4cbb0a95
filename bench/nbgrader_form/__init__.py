"""The nbgrader-form course of bench/bench_vs_nbgrader.py: generator and in-kernel hidden tests."""
