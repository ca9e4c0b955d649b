"""On-demand benchmarks (never run by the test suite); each module runs as a script."""
