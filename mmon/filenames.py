"""The names of the files a baseline, a run and a capture merge write (SageMaker's names), defined once."""

STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
VIOLATIONS_FILE = "constraint_violations.json"
ANALYSIS_FILE = "analysis.json"  # bias and feature attribution (Clarify)
CLOUDWATCH_FILE = "cloudwatch_metrics.jsonl"
PROMETHEUS_FILE = "metrics.prom"
LOCAL_SHAP_FILE = "explanations_shap/out.csv"  # feature attribution's per-record SHAP values

# Every file a baseline or run of any monitor type may write into its output folder.
REPORT_FILES = (STATISTICS_FILE, CONSTRAINTS_FILE, VIOLATIONS_FILE, ANALYSIS_FILE, CLOUDWATCH_FILE,
                PROMETHEUS_FILE, LOCAL_SHAP_FILE)  # fmt: skip
