"""Benchmarks and answer grading.

``ttscale.data.datasets.datasets`` is the dataset registry (not re-exported here, so the
``datasets`` submodule is not shadowed).
"""

from ttscale.data.datasets import find_data_dir, load_dataset
from ttscale.data.extraction import extract_answer
from ttscale.data.grading import Grader

__all__ = ["Grader", "extract_answer", "find_data_dir", "load_dataset"]
