"""Every example of every command's --help runs as shown (issue 14, item 9).

The examples are read from the commands themselves, split as a shell would split them, and run
in one workspace prepared as a user's would be: training data, current data, a merged window,
a capture and ground-truth folder, an analysis config and a model script. The baseline examples
run first and make the baselines the other examples use. An example may find violations (exit
1); it may not fail (exit 2 or 3). The examples on S3 run against a real S3 server, with the
bucket they name.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import typer

from mmon.capture.synth import demo
from mmon.cli.app import app
from mmon.demo import make_frame
from tests.clihelp import run_cli

ORDER = ("baseline", "capture-merge", "run", "violations", "schedule-print", "executions")

ANALYSIS_CONFIG = {
    # Clarify's one config for bias (label = a probability above 0.5, facet region) and SHAP.
    "label": "approved_probability",
    "label_values_or_threshold": [0.5],
    "facet": [{"name_or_index": "region", "value_or_threshold": ["north"]}],
    "headers": ["age", "income", "credit_score", "tenure_months", "balance"],
    "methods": {
        "pre_training_bias": {"methods": ["CI", "DPL"]},
        "shap": {"baseline": [[45, 50000, 680, 120, 3000]], "num_samples": 30, "agg_method": "mean_abs"},
    },
}

MODEL = '''"""The example's model: a logistic score of the five numeric features."""
import numpy as np


def predict(rows):
    x = np.asarray(rows, dtype=float)
    return 1 / (1 + np.exp(-(0.01 * (x[:, 2] - 680) + 0.00001 * (x[:, 1] - 50000))))
'''


def examples() -> list[tuple[str, list[str]]]:
    """(command, argv) of every ``mmon …`` line in the Examples of each command's help, in ORDER."""
    group = typer.main.get_command(app)
    found = []
    for name in ORDER:
        help_text = group.commands[name].help or ""  # type: ignore[attr-defined]
        section = help_text.split("[bold]Examples[/]", 1)[1] if "[bold]Examples[/]" in help_text else ""
        for line in section.splitlines():
            if line.strip().startswith("mmon "):
                found.append((name, shlex.split(line.strip())[1:]))
    assert {n for n, _ in found} == set(ORDER), "every command has examples"
    return found


def _is_s3(argv: list[str]) -> bool:
    return any("s3://" in a for a in argv)


def _prepare(ws: Path) -> None:
    train = make_frame(1500, seed=7)
    train.write_csv(ws / "train.csv")
    make_frame(400, seed=8).write_csv(ws / "current.csv")
    make_frame(400, seed=9, drift=True).write_parquet(ws / "current.parquet")
    (ws / "data").mkdir()
    make_frame(300, seed=10).write_csv(ws / "data" / "part-0.csv", include_header=False)
    rng = np.random.default_rng(3)
    valid = make_frame(800, seed=11)
    prob = valid["approved_probability"].to_numpy()
    pl.DataFrame(
        {"prediction": (prob > 0.5).astype(int), "probability": prob, "label": (rng.random(800) < prob).astype(int)}
    ).write_csv(ws / "validation.csv")
    (ws / "merged").mkdir()
    window = make_frame(500, seed=12)
    wprob = window["approved_probability"].to_numpy()
    window.with_columns(
        prediction=pl.Series((wprob > 0.5).astype(int)), label=pl.Series((rng.random(500) < wprob).astype(int))
    ).write_parquet(ws / "merged" / "merged.parquet")
    (ws / "analysis_config.json").write_text(json.dumps(ANALYSIS_CONFIG))
    (ws / "mymodel.py").write_text(MODEL)
    demo(str(ws / "demo"), hours=4, records_per_hour=40)
    (ws / "cap" / "ep").mkdir(parents=True)
    shutil.move(ws / "demo" / "datacapture" / "demo-endpoint" / "AllTraffic", ws / "cap" / "ep" / "AllTraffic")
    shutil.move(ws / "demo" / "groundtruth", ws / "gt")
    shutil.rmtree(ws / "demo")


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    global _capsys
    _capsys = capsys
    ws = tmp_path / "ws"
    ws.mkdir()
    _prepare(ws)
    monkeypatch.chdir(ws)
    # "A baseline prepared": the run examples read base/.
    code = _run(["baseline", "train.csv", "--output", "base", "-q"])
    assert code == 0
    return ws


_capsys: pytest.CaptureFixture[str] | None = None


def _run(argv: list[str]) -> int:
    """Run one example in-process; ``> FILE`` redirects its stdout as a shell would."""
    assert _capsys is not None
    target = None
    if ">" in argv:
        i = argv.index(">")
        argv, target = argv[:i], argv[i + 1]
    code, out, err = run_cli(argv, _capsys)
    if target:
        Path(target).write_text(out)
    _last.update(argv=argv, out=out, err=err)
    return code


_last: dict[str, object] = {}


def _check_all(selected: list[tuple[str, list[str]]]) -> None:
    for name, argv in selected:
        code = _run(argv)
        if os.environ.get("MMON_EXAMPLES_VERBOSE"):
            print(code, shlex.join(argv), file=os.sys.__stderr__)  # type: ignore[attr-defined]
        assert code in (0, 1), f"`mmon {shlex.join(argv)}` exited {code}: {_last['err']}"
        if "--json" in argv or "json" in argv:
            json.loads(str(_last["out"]))
        if name == "schedule-print" and "--json" not in argv and "json" not in argv:
            _entry_runs(argv)


def _entry_runs(argv: list[str]) -> None:
    """The entry a schedule-print example prints runs: its mmon run, as the entry gives it, exits 0 or 1."""
    run_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    if not run_args or _is_s3(run_args):
        return
    expression = argv[1]
    code, out, err = run_cli(["schedule-print", expression, "--as", "json", "--mmon", "mmon", "--", *run_args], _capsys)  # type: ignore[arg-type]
    assert code == 0, err
    command = json.loads(out)["command"]
    assert command[:2] == ["mmon", "run"]
    code = _run(command[1:])
    assert code in (0, 1), f"the entry's `{shlex.join(command)}` exited {code}: {_last['err']}"


def test_every_local_help_example_runs(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    local = [(n, a) for n, a in examples() if not _is_s3(a)]
    assert len(local) >= 15
    _check_all(local)
    # What the examples were meant to produce is there.
    for f in ("baseline/statistics.json", "mq/constraints.json", "bias/analysis.json", "fa/analysis.json",
              "out/run/constraint_violations.json", "reports/mq/2024/01/01/02/execution.json"):  # fmt: skip
        assert (workspace / f).exists(), f


@pytest.mark.slow
def test_every_s3_help_example_runs(workspace: Path, s3_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    """The S3 examples, with the bucket they name, on a real S3 server (credentials from AWS_*)."""
    from mmon.store import Store

    store = Store()
    fs = store.fs("s3://bucket/")
    if not fs.exists("bucket"):
        fs.mkdir("bucket")
    # The data the examples point at.
    frame = make_frame(1200, seed=21)
    for i in range(2):
        buf = __import__("io").BytesIO()
        frame.slice(i * 600, 600).write_parquet(buf)
        store.write_bytes(f"s3://bucket/train/part-{i}.parquet", buf.getvalue())
    store.write_bytes("s3://bucket/merged/2026/11/21/13/merged.parquet", (workspace / "merged" / "merged.parquet").read_bytes())
    for f in ("statistics.json", "constraints.json"):
        store.write_bytes(f"s3://bucket/base/{f}", (workspace / "base" / f).read_bytes())
    for p in (workspace / "cap" / "ep" / "AllTraffic").rglob("*.jsonl"):
        rel = p.relative_to(workspace / "cap" / "ep" / "AllTraffic").as_posix()
        store.write_bytes(f"s3://bucket/datacapture/my-endpoint/AllTraffic/{rel}", p.read_bytes())
    assert _run(["baseline", "train.csv", "--output", "baseline", "-q"]) == 0  # --header-from baseline/statistics.json
    code = _run(["run", "current.csv", "--baseline-statistics", "base/statistics.json", "--baseline-constraints",
                 "base/constraints.json", "-o", "s3://bucket/monitor/2026/11/21/13", "-q"])  # fmt: skip
    assert code in (0, 1), _last["err"]
    code = _run(["run", "--capture", "s3://bucket/datacapture/my-endpoint/AllTraffic", "--scheduled-time", "2024-01-01T02:00:00Z",
                 "--baseline-statistics", "base/statistics.json", "--baseline-constraints", "base/constraints.json",
                 "-o", "s3://bucket/reports/churn", "-q"])  # fmt: skip
    assert code in (0, 1), _last["err"]
    remote = [(n, a) for n, a in examples() if _is_s3(a)]
    assert len(remote) >= 5
    _check_all(remote)
    assert store.exists("s3://bucket/monitor/baseline/constraints.json")
    assert store.exists("s3://bucket/merged/h13/merge_summary.json")
    assert store.exists("s3://bucket/reports/13/constraint_violations.json")
    # `schedule-print hourly … > churn.cron` gave an installable crontab and nothing else.
    lines = [ln for ln in (workspace / "churn.cron").read_text().splitlines() if ln.strip()]
    cron = [ln for ln in lines if not ln.startswith(("#", "CRON_TZ="))]
    assert len(cron) == 1 and cron[0].startswith("0 * * * * cd ") and "--scheduled-time now" in cron[0]


def test_examples_are_found(capsys: pytest.CaptureFixture[str]) -> None:
    """The parser sees each command's examples (and no prose)."""
    found = examples()
    assert all(argv and argv[0] in ORDER for _, argv in found)
    assert not os.environ.get("MMON_EXAMPLES_SKIP")
