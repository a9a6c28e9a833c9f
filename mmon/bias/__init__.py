"""Bias drift (SageMaker Clarify's model-bias monitor): metrics, baseline, run, violations.

See :mod:`mmon.bias.metrics` (formulas), :mod:`mmon.bias.compute` (matching rules, counts),
:mod:`mmon.bias.values` (Clarify's continuous / categorical rule),
:mod:`mmon.bias.drift` (violation rule) and :mod:`mmon.bias.api` (files written).
"""

from mmon.bias.api import (
    ANALYSIS_FILE,
    BiasOptions,
    BiasResult,
    baseline_bias,
    cloudwatch_records,
    load_bias_constraints,
    run_bias,
)
from mmon.bias.config import load_analysis_config, selected_methods, validate_analysis_config

__all__ = [
    "ANALYSIS_FILE",
    "BiasOptions",
    "BiasResult",
    "baseline_bias",
    "cloudwatch_records",
    "load_analysis_config",
    "load_bias_constraints",
    "run_bias",
    "selected_methods",
    "validate_analysis_config",
]
