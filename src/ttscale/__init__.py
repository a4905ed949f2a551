"""ttscale: test-time scaling of LLM reasoning with process reward models."""

__version__ = "0.1.0"

from ttscale.config import RunConfig, load_config
from ttscale.runs.runner import RunReport, run

__all__ = ["RunConfig", "RunReport", "__version__", "load_config", "run"]
