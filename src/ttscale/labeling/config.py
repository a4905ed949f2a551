"""Configuration of ``ttscale label``: which policy rolls out, on which problems, how many times."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ttscale.config import DataConfig, PolicyConfig
from ttscale.labeling.rpe import DEFAULT_EPSILON, DEFAULT_K_SCHEDULE

_STRICT = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


class LabelConfig(BaseModel):
    model_config = _STRICT

    seed: int = 0
    """Every rollout's seed derives from (seed, problem id, solution, step)."""
    data: DataConfig = DataConfig(dataset="mini-train", limit=400)
    """Problems to label; mini-train draws train-split seeds disjoint from mini-500 and from
    the policies' own training problems."""
    policy: PolicyConfig = PolicyConfig()
    """The policy that writes the solutions and completes them (GenPRM used one model for each)."""
    samples_per_problem: int = Field(16, ge=2)
    """Stage 1: solutions sampled per problem to find correct and wrong ones and pass@1."""
    paths_per_problem: int = Field(4, ge=1)
    """Solutions kept per problem, balanced between correct and wrong (GenPRM scripts: 4)."""
    keep_unmixed: bool = False
    """Keep problems whose samples are all right or all wrong (the paper drops them)."""
    first_prefix: str = "Step 1: "
    """Step forcing: the assistant turn is prefilled with this (GenPRM §7.1)."""
    continuation: str = "\n\n"
    """Appended to a step prefix before completing it; {next} is the next step's number.
    GenPRM forces "\\n\\nStep {next}: " for Qwen; the mini task's last step is not numbered."""
    k_schedule: tuple[int, int, int] = DEFAULT_K_SCHEDULE
    """Rollouts per step when pass@1 < 0.1, in [0.1, 0.9), and >= 0.9 (the paper's dynamic K)."""
    epsilon: float = Field(DEFAULT_EPSILON, gt=0.0, le=1.0)
    """RPE threshold: a step is good iff MC(s_t, a_t) / MC(s_t) >= epsilon."""
    batch_problems: int = Field(16, ge=1)
    """Problems rolled out together; results are appended after each batch."""
    grading_timeout_s: float = Field(5.0, gt=0)
    """Per-answer timeout of the math-verify grader worker."""
