"""Golden outputs: every ``--type`` (baseline, then run ``--json``) against recorded snapshots.

These tests guard refactorings: each output file's bytes and the stdout JSON must stay exactly
what was recorded in ``tests/golden/<case>/<step>/`` from small deterministic inputs committed in
``tests/golden/inputs/``. A change that is meant to change an output regenerates the snapshots:

    MMON_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py

and the diff of ``tests/golden/`` then shows (and reviews) exactly what changed.

Normalisation (the only ones): absolute paths that differ per run — the pytest temporary folder
(``<TMP>``) and the checkout (``<ROOT>``) — and the value of model quality's
``"evaluation_time"`` (the wall clock at the run, as SageMaker writes it) are replaced in stdout and
in the output files; in the report manifest ``.mmon-report.json`` the publication's ``"id"`` and
``"published"`` time (a timestamp and a random suffix) and the files' sha256 digests are replaced
too — each digest is first checked against the bytes of the file it names, and the sizes are
compared. The run's metric timestamp would be volatile too, so it is fixed with
``--metric-time``. Nothing else is normalised: numbers, key order and whitespace are compared
byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.clihelp import run_cli

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
INPUTS = GOLDEN / "inputs"
MODEL = ROOT / "fixtures" / "models" / "attribution_models.py"
UPDATE = os.environ.get("MMON_UPDATE_GOLDEN") == "1"
METRIC_TIME = ["--metric-time", "2026-01-01T00:00:00Z"]

# case -> steps: (step name, arguments with {IN} = inputs folder and {OUT} = this case's outputs,
# expected exit code). Each step writes to {OUT}/<step name>.
CASES: dict[str, list[tuple[str, list[str], int]]] = {
    "data-quality-csv": [
        ("baseline", ["baseline", "{IN}/dq_train.csv", "-o", "{OUT}/baseline", "--json"], 0),
        (
            "run",
            [
                "run", "{IN}/dq_current.csv", "--baseline-statistics", "{OUT}/baseline/statistics.json",
                "--baseline-constraints", "{OUT}/baseline/constraints.json", "-o", "{OUT}/run",
                "--endpoint", "golden", "--schedule", "hourly", *METRIC_TIME, "--json",
            ],
            1,
        ),
        (
            "run-same",
            [
                "run", "{IN}/dq_train.parquet", "--baseline-statistics", "{OUT}/baseline/statistics.json",
                "--baseline-constraints", "{OUT}/baseline/constraints.json", "-o", "{OUT}/run-same",
                *METRIC_TIME, "--drift-test", "psi=0.2", "--drift-test", "ks", "--json",
            ],
            0,
        ),
    ],
    "data-quality-parquet": [
        ("baseline", ["baseline", "{IN}/dq_train.parquet", "-o", "{OUT}/baseline", "--json"], 0),
    ],
    "model-quality": [
        (
            "baseline",
            [
                "baseline", "{IN}/mq_base.csv", "--type", "model-quality", "--problem-type", "BinaryClassification",
                "--inference-attribute", "prediction", "--probability-attribute", "probability",
                "--ground-truth-attribute", "label", "-o", "{OUT}/baseline", "--json",
            ],
            0,
        ),
        (
            "run",
            [
                "run", "{IN}/mq_current.csv", "--type", "model-quality", "--problem-type", "BinaryClassification",
                "--inference-attribute", "prediction", "--probability-attribute", "probability",
                "--ground-truth-attribute", "label", "--baseline-constraints", "{OUT}/baseline/constraints.json",
                "-o", "{OUT}/run", *METRIC_TIME, "--json",
            ],
            1,
        ),
    ],
    "bias": [
        (
            "baseline",
            [
                "baseline", "{IN}/bias_train.csv", "--type", "bias", "--config", "{IN}/bias_config.json",
                "--probability-attribute", "probability", "-o", "{OUT}/baseline", "--json",
            ],
            0,
        ),
        (
            "run",
            [
                "run", "{IN}/bias_current.csv", "--type", "bias", "--config", "{IN}/bias_config.json",
                "--probability-attribute", "probability", "--baseline-constraints", "{OUT}/baseline/analysis.json",
                "-o", "{OUT}/run", *METRIC_TIME, "--json",
            ],
            1,
        ),
    ],
    "feature-attribution": [
        (
            "baseline",
            [
                "baseline", "{IN}/fa_base.csv", "--type", "feature-attribution", "--model", f"{MODEL}:linear",
                "--config", "{IN}/fa_config.json", "-o", "{OUT}/baseline", "--json",
            ],
            0,
        ),
        (
            "run",
            [
                "run", "{IN}/fa_current.csv", "--type", "feature-attribution", "--model", f"{MODEL}:switched",
                "--config", "{IN}/fa_config.json", "--baseline-constraints", "{OUT}/baseline/analysis.json",
                "-o", "{OUT}/run", *METRIC_TIME, "--json",
            ],
            1,
        ),
    ],
}


EVALUATION_TIME = re.compile(rb'("evaluation_time" ?: ?)"[^"]*"')
PUBLICATION = re.compile(rb'("(?:id|published|sha256)" ?: ?)"[^"]*"')


def _normalise(data: bytes, tmp: Path) -> bytes:
    data = data.replace(str(tmp).encode(), b"<TMP>").replace(str(ROOT).encode(), b"<ROOT>")
    return EVALUATION_TIME.sub(rb'\1"<TIME>"', data)


def _check_digests(manifest: Path) -> None:
    files = json.loads(manifest.read_text()).get("files", {})
    for name, entry in files.items():
        if "sha256" in entry and not str(entry["sha256"]).startswith("<"):
            data = (manifest.parent / name).read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"], f"{manifest}: digest of {name}"


def _outputs(folder: Path, tmp: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            body = _normalise(p.read_bytes(), tmp)
            if p.name == ".mmon-report.json":
                _check_digests(p)
                body = PUBLICATION.sub(rb'\1"<VOLATILE>"', body)
            out[p.relative_to(folder).as_posix()] = body
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / case
    for step, args, expected_code in CASES[case]:
        argv = [a.replace("{IN}", str(INPUTS)).replace("{OUT}", str(out)) for a in args]
        code, stdout, stderr = run_cli(argv, capsys)
        assert code == expected_code, f"{case}/{step}: exit {code}\n{stderr}"
        got = _outputs(out / step, tmp_path)
        got["stdout.json"] = _normalise(stdout.encode(), tmp_path)
        snapshot = GOLDEN / case / step
        if UPDATE:
            shutil.rmtree(snapshot, ignore_errors=True)
            for name, body in got.items():
                (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
                (snapshot / name).write_bytes(body)
            continue
        assert snapshot.is_dir(), f"no snapshot {snapshot}: record it with MMON_UPDATE_GOLDEN=1"
        want = _outputs(snapshot, tmp_path)
        assert sorted(got) == sorted(want), f"{case}/{step}: output files differ"
        for name in want:
            assert got[name] == want[name], f"{case}/{step}/{name} differs from its snapshot"
