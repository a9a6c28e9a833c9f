"""mmon's CBPE against NannyML's on the same data and chunks; prints a table.

    python bench/cbpe_vs_nannyml.py                       # binary, 3 seeds, 20k reference / 50k analysis
    python bench/cbpe_vs_nannyml.py --seeds 5 --rows 50000
    python bench/cbpe_vs_nannyml.py --nannyml-python /path/to/python   # an existing NannyML venv

NannyML runs in its own venv (bench/.venv-nannyml, made on first use with ``nannyml==0.13.1``,
``statsmodels`` and ``pandas<3``), never in mmon's. Both see the same Parquet files; the analysis
is cut into NannyML's chunks (``--chunk-size`` rows, the remainder kept as a last chunk) and mmon
estimates each chunk with the model it fitted on the reference. The table gives, per metric, the
largest absolute difference over all chunks and seeds of the estimate and of the sampling error,
and the thresholds' largest difference. The issue's bar: 1e-6 (ROC AUC 1e-5: NannyML rounds its
cumulative sums to 5 decimals).

The data: a feature ``x ~ N(0, 1)`` on the reference and ``N(shift, 1)`` on the analysis, the true
P(y=1 | x) a logistic curve, the model's score a miscalibrated logistic of ``x`` (so calibration
is exercised), the prediction ``score > 0.5``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mmon.cbpe import fit  # noqa: E402
from mmon.cbpe.estimator import reference_chunks  # noqa: E402
from mmon.cbpe.multiclass import fit_multiclass  # noqa: E402

NANNYML = {"roc_auc": "auc", "f1": "f1", "precision": "precision", "recall": "recall",
           "specificity": "true_negative_rate", "accuracy": "accuracy"}  # fmt: skip
NANNYML_MC = {"roc_auc": "macro_auc", "f1": "macro_f1", "precision": "macro_precision", "recall": "macro_recall",
              "specificity": "macro_true_negative_rate", "accuracy": "accuracy"}  # fmt: skip
CLASSES = ["a", "b", "c"]
REQUIREMENTS = ["nannyml==0.13.1", "statsmodels", "pandas<3"]


def ensure_nannyml(venv: Path) -> Path:
    py = venv / "bin" / "python"
    if py.exists() and subprocess.run([str(py), "-c", "import nannyml"], capture_output=True).returncode == 0:
        return py
    print(f"creating {venv} with {' '.join(REQUIREMENTS)} …", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    (venv / ".gitignore").write_text("*\n")
    subprocess.run([str(py), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
    return py


def make_data(seed: int, n_ref: int, n_ana: int, shift: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)

    def sample(n: int, mean: float) -> pl.DataFrame:
        x = rng.normal(mean, 1.0, n)
        y = (rng.random(n) < 1 / (1 + np.exp(-1.5 * x))).astype(np.int64)
        score = 1 / (1 + np.exp(-(1.1 * x + 0.4)))
        return pl.DataFrame({"y_true": y, "y_pred": (score > 0.5).astype(np.int64), "score": score})

    return sample(n_ref, 0.0), sample(n_ana, shift)


def make_multiclass(seed: int, n_ref: int, n_ana: int, shift: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Three classes; true P(class | x) a softmax of linear functions of two features; the model's
    scores the same softmax at another temperature (miscalibrated), its prediction their argmax."""
    rng = np.random.default_rng(seed)
    w = np.array([[1.2, 0.0], [-0.6, 1.0], [-0.6, -1.0]])

    def sample(n: int, mean: float) -> pl.DataFrame:
        x = rng.normal(mean, 1.0, (n, 2))
        logits = x @ w.T
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        y = np.array([CLASSES[i] for i in (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)])
        s = np.exp(0.7 * logits) / np.exp(0.7 * logits).sum(axis=1, keepdims=True)
        pred = np.array(CLASSES)[s.argmax(axis=1)]
        return pl.DataFrame({"y_true": y, "y_pred": pred, **{f"score_{c}": s[:, k] for k, c in enumerate(CLASSES)}})

    return sample(n_ref, 0.0), sample(n_ana, shift)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--rows", type=int, default=20000, help="reference rows (analysis: 2.5x)")
    ap.add_argument("--chunk-size", type=int, default=5000)
    ap.add_argument("--shift", type=float, default=0.6)
    ap.add_argument("--nannyml-python", default=None)
    ap.add_argument("--problem", choices=["binary", "multiclass"], default="binary")
    args = ap.parse_args()
    py = Path(args.nannyml_python) if args.nannyml_python else ensure_nannyml(HERE / ".venv-nannyml")

    worst: dict[str, list[float]] = {m: [0.0, 0.0, 0.0] for m in NANNYML}
    calib = []
    chunks_compared = 0
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            multi = args.problem == "multiclass"
            maker = make_multiclass if multi else make_data
            ref, ana = maker(seed, args.rows, int(args.rows * 2.5), args.shift)
            rp, ap_ = Path(tmp) / f"ref{seed}.parquet", Path(tmp) / f"ana{seed}.parquet"
            ref.write_parquet(rp)
            ana.write_parquet(ap_)
            out = subprocess.run(
                [str(py), str(HERE / "nannyml_side.py"), str(rp), str(ap_), str(args.chunk_size), args.problem],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            theirs = json.loads(out.stdout.strip().splitlines()[-1])
            names = NANNYML_MC if multi else NANNYML
            model: Any
            if multi:
                cols = [f"score_{c}" for c in CLASSES]
                model = fit_multiclass(ref["y_true"].to_numpy(), ref["y_pred"].to_numpy(), ref.select(cols).to_numpy(),
                                       CLASSES, chunk_size=args.chunk_size)  # fmt: skip
            else:
                model = fit(ref["y_true"].to_numpy(), ref["y_pred"].to_numpy(), ref["score"].to_numpy(), chunk_size=args.chunk_size)
                calib.append((seed, not model.calibrator.identity, theirs["needs_calibration"]))
            ours_chunks = reference_chunks(ana.height, args.chunk_size)
            assert [(c["start"], c["end"]) for c in theirs["chunks"]] == ours_chunks, "chunking differs"
            for (a, b), chunk in zip(ours_chunks, theirs["chunks"], strict=True):
                if multi:
                    est = model.estimate(ana.select(cols).to_numpy()[a:b], ana["y_pred"].to_numpy()[a:b])
                else:
                    est = model.estimate(ana["score"].to_numpy()[a:b], ana["y_pred"].to_numpy()[a:b])
                chunks_compared += 1
                for nm, ours in names.items():
                    e = est[ours]
                    d_val = abs(e.value - chunk[nm]["value"])
                    d_se = abs(e.sampling_error - chunk[nm]["sampling_error"])
                    d_thr = max(
                        abs((e.lower_threshold or 0) - (chunk[nm]["lower_threshold"] or 0)),
                        abs((e.upper_threshold or 0) - (chunk[nm]["upper_threshold"] or 0)),
                    )
                    w = worst[nm]
                    w[0], w[1], w[2] = max(w[0], d_val), max(w[1], d_se), max(w[2], d_thr)
    version = theirs["version"]
    print(f"\nmmon CBPE vs NannyML {version}: {args.problem}, {args.seeds} seeds, reference {args.rows} rows, "
          f"analysis {int(args.rows * 2.5)} rows, chunks of {args.chunk_size} ({chunks_compared} chunks compared)")  # fmt: skip
    print(f"calibration decided (seed, mmon, NannyML): {calib}\n")
    print("| metric | max abs diff estimate | max abs diff sampling error | max abs diff thresholds | bar |")
    print("|---|---:|---:|---:|---:|")
    ok = True
    for nm, (dv, ds, dt) in worst.items():
        bar = 1e-5 if nm == "roc_auc" else 1e-6
        ok &= dv <= bar and ds <= 1e-6 and dt <= 1e-6
        print(f"| {names[nm]} ({nm}) | {dv:.2e} | {ds:.2e} | {dt:.2e} | {bar:g} |")
    agree = all(a == b for _, a, b in calib)
    print(f"\n{'PASS' if ok and agree else 'FAIL'}: every difference within its bar; calibration decisions agree: {agree}")
    return 0 if ok and agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
