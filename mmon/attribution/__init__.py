"""Feature-attribution drift (SageMaker Clarify's model-explainability monitor): Kernel SHAP + nDCG."""

from mmon.attribution.api import (
    ANALYSIS_FILE,
    CLOUDWATCH_FILE,
    VIOLATIONS_FILE,
    AttributionResult,
    baseline_attribution,
    cloudwatch_records,
    compare,
    run_attribution,
)
from mmon.attribution.config import load_analysis, load_config, validate_config
from mmon.attribution.explain import AttributionOptions
from mmon.attribution.kernel_shap import ShapResult, coalitions, kernel_shap, kmeans
from mmon.attribution.model import Model, ModelError, ModelUnavailable, load_model
from mmon.attribution.ndcg import ndcg, violation

__all__ = [
    "ANALYSIS_FILE",
    "CLOUDWATCH_FILE",
    "VIOLATIONS_FILE",
    "AttributionOptions",
    "AttributionResult",
    "Model",
    "ModelError",
    "ModelUnavailable",
    "ShapResult",
    "baseline_attribution",
    "cloudwatch_records",
    "coalitions",
    "compare",
    "kernel_shap",
    "kmeans",
    "load_analysis",
    "load_config",
    "load_model",
    "ndcg",
    "run_attribution",
    "validate_config",
    "violation",
]
