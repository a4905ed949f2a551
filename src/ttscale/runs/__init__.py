"""Runs: the run folder, its SQLite store of per-problem results, and the runner."""
