"""Offline evaluation: the benchmark runner, its Markdown report and plots."""
