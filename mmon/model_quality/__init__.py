"""Model quality: compare predictions with ground-truth labels, as SageMaker Model Monitor does.

``baseline_model_quality`` writes a model-quality ``statistics.json`` and suggested
``constraints.json``; ``run_model_quality`` computes the same metrics for a window and writes
``constraint_violations.json``, ``statistics.json`` and the metric records. Formats: format study
``shared/reference/sagemaker-formats.md`` §4; metric definitions: :mod:`.functions`.
"""

from mmon.model_quality.api import (
    PROBLEM_TYPES,
    MQConfig,
    MQResult,
    NotEnoughLabels,
    baseline_model_quality,
    run_model_quality,
)
from mmon.model_quality.view import ROW_COLUMNS, mq_rows, mq_summary

__all__ = [
    "PROBLEM_TYPES",
    "ROW_COLUMNS",
    "MQConfig",
    "MQResult",
    "NotEnoughLabels",
    "baseline_model_quality",
    "mq_rows",
    "mq_summary",
    "run_model_quality",
]
