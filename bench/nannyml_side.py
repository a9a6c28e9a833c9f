"""NannyML's CBPE on a reference and an analysis Parquet file; prints one JSON document.

Runs in NannyML's own venv (bench/.venv-nannyml, made by bench/cbpe_vs_nannyml.py), never in
mmon's: ``python bench/nannyml_side.py REFERENCE ANALYSIS CHUNK_SIZE PROBLEM_TYPE``.
Binary columns: ``y_true``, ``y_pred``, ``score``; multiclass: ``y_true``, ``y_pred`` and one
``score_<class>`` column per class.
"""

from __future__ import annotations

import json
import sys
import warnings

import nannyml as nml
import pandas as pd

warnings.filterwarnings("ignore")

METRICS = ["roc_auc", "f1", "precision", "recall", "specificity", "accuracy"]


def main() -> None:
    ref_path, ana_path, chunk_size, problem = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    reference = pd.read_parquet(ref_path)
    analysis = pd.read_parquet(ana_path).drop(columns=["y_true"])
    if problem == "binary":
        proba: object = "score"
        problem_type = "classification_binary"
    else:
        classes = sorted(c[len("score_") :] for c in reference.columns if c.startswith("score_"))
        proba = {c: f"score_{c}" for c in classes}
        problem_type = "classification_multiclass"
    est = nml.CBPE(
        y_pred_proba=proba,
        y_pred="y_pred",
        y_true="y_true",
        metrics=METRICS,
        chunk_size=chunk_size,
        problem_type=problem_type,
    )
    est.fit(reference)
    res = est.estimate(analysis).filter(period="analysis").to_df()
    out: dict[str, object] = {"version": nml.__version__, "chunks": []}
    for _, row in res.iterrows():
        chunk = {"start": int(row[("chunk", "start_index")]), "end": int(row[("chunk", "end_index")]) + 1}
        for m in METRICS:
            chunk[m] = {
                "value": float(row[(m, "value")]),
                "sampling_error": float(row[(m, "sampling_error")]),
                "lower_threshold": None if pd.isna(row[(m, "lower_threshold")]) else float(row[(m, "lower_threshold")]),
                "upper_threshold": None if pd.isna(row[(m, "upper_threshold")]) else float(row[(m, "upper_threshold")]),
            }
        out["chunks"].append(chunk)  # type: ignore[union-attr]
    if problem == "binary":
        out["needs_calibration"] = bool(est.needs_calibration)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
