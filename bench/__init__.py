"""On-demand benchmarks (never run by the tests); each prints ratios against a peer."""
