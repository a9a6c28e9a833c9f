"""mmon: SageMaker Model Monitor's baselines, checks and reports on any file store."""

__version__ = "0.1.0"
