"""Benchmarks (`make bench`): ratios measured side by side in one run, and AWS calls per operation
(which do not depend on the machine). Never timed assertions in tests."""
