"""Confidence-based performance estimation (CBPE): a classifier's metrics estimated from its
calibrated scores while the labels have not arrived (NannyML's method, written anew)."""

from mmon.cbpe.estimator import CBPEModel, Estimate, fit

__all__ = ["CBPEModel", "Estimate", "fit"]
