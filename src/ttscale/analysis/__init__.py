"""Analysis: metrics over stored results."""
