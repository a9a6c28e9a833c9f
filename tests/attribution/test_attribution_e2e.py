"""Feature-attribution drift end to end: callable and HTTP models, columns:PREFIX, errors, cost bounds."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from mmon import schemas
from mmon.attribution import (
    AttributionOptions,
    ModelError,
    ModelUnavailable,
    baseline_attribution,
    load_config,
    load_model,
    run_attribution,
)
from mmon.errors import InputError, SchemaError, StorageError
from mmon.store import Store

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "fixtures" / "models" / "attribution_models.py"
W = np.array([3.0, 2.0, 1.0, 0.25])
FEATURES = ["a", "b", "c", "d"]


def _model(name: str) -> str:
    return f"{MODELS}:{name}"


def _write_csv(
    path: Path, x: np.ndarray, header: bool = True, extra: dict[str, list[str]] | None = None
) -> str:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        cols = FEATURES + list(extra or {})
        if header:
            w.writerow(cols)
        for i, row in enumerate(x):
            w.writerow([repr(float(v)) for v in row] + [extra[k][i] for k in extra or {}])
    return str(path)


def _config(**shap: object) -> dict:
    base = {"baseline": [[0.0, 0.0, 0.0, 0.0]], "num_samples": 100}
    base.update(shap)
    return {"headers": FEATURES, "methods": {"shap": base}}


@pytest.fixture()
def data(tmp_path: Path) -> dict[str, str]:
    rng = np.random.default_rng(11)
    base = rng.normal(size=(300, 4))
    cur = rng.normal(size=(200, 4))
    return {
        "x": base,
        "baseline": _write_csv(tmp_path / "baseline.csv", base),
        "current": _write_csv(tmp_path / "current.csv", cur),
    }


def _read(path: str) -> dict:
    return json.loads(Path(path).read_text())


def test_baseline_writes_clarify_analysis_with_exact_linear_values(tmp_path: Path, data: dict) -> None:
    store = Store()
    seen: list[tuple[str, int, int]] = []
    res = baseline_attribution(
        store,
        [data["baseline"]],
        str(tmp_path / "base"),
        _model("linear"),
        _config(),
        AttributionOptions(),
        progress=lambda label, done, total: seen.append((label, done, total)),
    )
    doc = _read(res.outputs["analysis"])
    assert list(doc) == ["version", "explanations"] and doc["version"] == "1.0"
    entry = doc["explanations"]["kernel_shap"]["label0"]
    assert list(entry) == ["global_shap_values", "expected_value"]
    assert list(entry["global_shap_values"]) == FEATURES
    expected = np.abs(W * data["x"]).mean(axis=0)  # background = the zero row, agg mean_abs
    assert np.abs(np.array(list(entry["global_shap_values"].values())) - expected).max() < 1e-6
    assert entry["expected_value"] == pytest.approx(0.5)
    # 4 features: the 100 requested samples are capped at the 14 coalitions; 1 + 300 + 300*14 rows.
    assert res.model_calls == 5 and seen[-1] == ("model calls", 5, 5) and len(seen) == 5
    assert res.rows == 300 and res.ndcg is None and res.violations == []
    title, columns, rows = res.table()
    assert columns[:2] == ["label", "feature"] and [r[1] for r in rows] == FEATURES
    assert "5 model calls" in title
    # Same shape as the real Clarify file.
    shared = ROOT.parent / "shared" / "reference" / "sagemaker" / "clarify-explainability-analysis.json"
    if shared.exists():
        real = _read(str(shared))
        assert list(real["explanations"]["kernel_shap"]["label0"]) == list(entry)


def test_median_and_mean_sq_and_kmeans_background(tmp_path: Path, data: dict) -> None:
    x = data["x"]
    for agg, ref in (
        ("median", np.median(W * (x - x.mean(axis=0)), axis=0)),
        ("mean_sq", ((W * (x - x.mean(axis=0))) ** 2).mean(axis=0)),
    ):
        cfg = {"headers": FEATURES, "methods": {"shap": {"agg_method": agg, "num_clusters": 5}}}
        res = baseline_attribution(
            Store(), [data["baseline"]], str(tmp_path / agg), _model("linear"), cfg, AttributionOptions()
        )
        vals = np.array(
            list(res.analysis["explanations"]["kernel_shap"]["label0"]["global_shap_values"].values())
        )
        # A weighted k-means summary keeps the data mean, so the linear values stay exact.
        assert np.abs(vals - ref).max() < 1e-6
        assert any("k-means" in w for w in res.warnings)


def test_same_model_not_flagged_switched_model_flagged(tmp_path: Path, data: dict) -> None:
    store = Store()
    base = baseline_attribution(
        store, [data["baseline"]], str(tmp_path / "base"), _model("linear"), _config(), AttributionOptions()
    )
    constraints = base.outputs["analysis"]
    published: list[bool] = []
    same = run_attribution(
        store,
        [data["current"]],
        str(tmp_path / "same"),
        _model("linear"),
        _config(),
        constraints,
        AttributionOptions(),
        endpoint="ep",
        schedule="sched",
        metric_time="2024-01-01T01:00:00Z",
        before_publish=lambda: published.append(True),
    )
    assert published == [True]
    assert same.violations == [] and same.ndcg == pytest.approx(1.0)
    vdoc = _read(same.outputs["constraint_violations"])
    assert vdoc == {"version": "1.0", "violations": []}
    records = [json.loads(line) for line in Path(same.outputs["cloudwatch_metrics"]).read_text().splitlines()]
    assert [r["MetricName"] for r in records] == [f"feature_{f}" for f in FEATURES] + ["expected_value"]
    assert records[0]["Dimensions"] == [
        {"Name": "Endpoint", "Value": "ep"},
        {"Name": "MonitoringSchedule", "Value": "sched"},
        {"Name": "ExplainabilityMethod", "Value": "KernelShap"},
        {"Name": "Label", "Value": "label0"},
        {"Name": "ValueType", "Value": "GlobalShapValues"},
    ]
    assert records[-1]["Dimensions"][-1] == {"Name": "ValueType", "Value": "ExpectedValue"}
    assert records[0]["Timestamp"] == "2024-01-01T01:00:00Z"

    switched = run_attribution(
        store,
        [data["current"]],
        str(tmp_path / "switched"),
        _model("switched"),
        _config(),
        constraints,
        AttributionOptions(),
    )
    assert switched.ndcg is not None and switched.ndcg < 0.9
    vdoc = _read(switched.outputs["constraint_violations"])
    schemas.validate(vdoc, "constraint_violations", "test")
    assert vdoc["version"] == "1.0"
    assert vdoc["violations"] == [
        {
            "label": "label0",
            "metric_name": "shap",
            "constraint_check_type": "feature_attribution_drift_check",
            "description": f"Feature attribution drift {switched.ndcg!r} exceeds threshold 0.9",
        }
    ]
    # Per-feature attributions are in the run's analysis.json and in the table.
    cur = _read(switched.outputs["analysis"])["explanations"]["kernel_shap"]["label0"]["global_shap_values"]
    assert max(cur, key=cur.get) == "d"
    title, columns, rows = switched.table()
    assert "VIOLATION" in rows[0] and "nDCG" in title
    assert switched.summary()["labels"]["label0"]["violated"] is True


def test_reruns_agree(tmp_path: Path, data: dict) -> None:
    cfg = {"headers": FEATURES, "methods": {"shap": {"num_samples": 6, "seed": 3}}}
    a = baseline_attribution(
        Store(), [data["baseline"]], str(tmp_path / "a"), _model("interaction"), cfg, AttributionOptions()
    )
    b = baseline_attribution(
        Store(), [data["baseline"]], str(tmp_path / "b"), _model("interaction"), cfg, AttributionOptions()
    )
    assert Path(a.outputs["analysis"]).read_bytes() == Path(b.outputs["analysis"]).read_bytes()


def test_multiple_labels_each_checked(tmp_path: Path, data: dict) -> None:
    cfg = _config()
    cfg["predictor"] = {"label_headers": ["first", "second"]}
    base = baseline_attribution(
        Store(), [data["baseline"]], str(tmp_path / "b"), _model("two_outputs"), cfg, AttributionOptions()
    )
    assert list(base.analysis["explanations"]["kernel_shap"]) == ["first", "second"]
    # Swap the two outputs' roles: both labels drift.
    doc = base.analysis
    k = doc["explanations"]["kernel_shap"]
    k["first"], k["second"] = k["second"], k["first"]
    Path(tmp_path / "swapped.json").write_text(json.dumps(doc))
    run = run_attribution(
        Store(),
        [data["current"]],
        str(tmp_path / "r"),
        _model("two_outputs"),
        cfg,
        str(tmp_path / "swapped.json"),
        AttributionOptions(),
    )
    assert [v["label"] for v in run.violations] == ["first", "second"]
    assert set(run.scores) == {"first", "second"} and run.ndcg == min(run.scores.values())


def test_max_records_sampling_and_call_count(tmp_path: Path, data: dict) -> None:
    opts = AttributionOptions(max_records=50, batch_size=200, seed=1)
    res = baseline_attribution(
        Store(), [data["baseline"]], str(tmp_path / "o"), _model("linear"), _config(), opts
    )
    assert res.rows == 50 and res.total_rows == 300
    assert res.model_calls == -(-(1 + 50 + 50 * 14) // 200)
    assert any("50 of 300" in w for w in res.warnings)
    again = baseline_attribution(
        Store(), [data["baseline"]], str(tmp_path / "p"), _model("linear"), _config(), opts
    )
    assert again.analysis == res.analysis
    summary = res.summary()
    assert summary["model_calls"] == res.model_calls and summary["rows"] == 50
    json.dumps(summary)


def test_headerless_csv_with_label_and_meta_columns(tmp_path: Path, data: dict) -> None:
    x = data["x"][:40]
    path = tmp_path / "nohead.csv"
    with open(path, "w") as f:
        for row in x:
            f.write("1," + ",".join(repr(float(v)) for v in row) + "\n")
    cfg = {"headers": FEATURES, "label": 0, "methods": {"shap": {"baseline": [[0, 0, 0, 0]]}}}
    res = baseline_attribution(
        Store(), [str(path)], str(tmp_path / "o"), _model("linear"), cfg, AttributionOptions(), header=False
    )
    vals = np.array(
        list(res.analysis["explanations"]["kernel_shap"]["label0"]["global_shap_values"].values())
    )
    assert np.abs(vals - np.abs(W * x).mean(axis=0)).max() < 1e-6
    # Capture bookkeeping columns are not features.
    meta = _write_csv(tmp_path / "meta.csv", x, extra={"__mmon_event_id": [str(i) for i in range(40)]})
    res2 = baseline_attribution(
        Store(),
        [meta],
        str(tmp_path / "m"),
        _model("linear"),
        {"methods": {"shap": {"baseline": [[0, 0, 0, 0]]}}},
        AttributionOptions(),
    )
    assert list(res2.analysis["explanations"]["kernel_shap"]["label0"]["global_shap_values"]) == FEATURES


def test_columns_prefix_reads_attributions_from_the_data(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    local = rng.normal(size=(30, 3))
    path = tmp_path / "attr.csv"
    with open(path, "w") as f:
        f.write("x,y,z,shap_x,shap_y,shap_z,shap_expected_value,__mmon_inference_id\n")
        for i, r in enumerate(local):
            f.write(f"1,2,3,{float(r[0])!r},{float(r[1])!r},{float(r[2])!r},0.25,id{i}\n")
    cfg = {"methods": {"shap": {"agg_method": "mean_abs"}}}
    res = baseline_attribution(
        Store(), [str(path)], str(tmp_path / "o"), "columns:shap_", cfg, AttributionOptions()
    )
    entry = res.analysis["explanations"]["kernel_shap"]["label0"]
    assert list(entry["global_shap_values"]) == ["x", "y", "z"]
    assert np.allclose(list(entry["global_shap_values"].values()), np.abs(local).mean(axis=0))
    assert entry["expected_value"] == 0.25 and res.model_calls == 0
    with pytest.raises(InputError, match="no column of the data starts with 'nope_'"):
        baseline_attribution(
            Store(), [str(path)], str(tmp_path / "o2"), "columns:nope_", cfg, AttributionOptions()
        )


# -- errors ------------------------------------------------------------------------------------------


def test_failing_and_malformed_models_are_clear_errors(tmp_path: Path, data: dict) -> None:
    with pytest.raises(
        ModelError,
        match=r"attribution_models.py:failing: batch 1 of \d+ .*RuntimeError: model crashed on purpose",
    ):
        baseline_attribution(
            Store(),
            [data["baseline"]],
            str(tmp_path / "o"),
            _model("failing"),
            _config(),
            AttributionOptions(),
        )
    with pytest.raises(ModelError, match="expected 1000 predictions"):
        baseline_attribution(
            Store(),
            [data["baseline"]],
            str(tmp_path / "o"),
            _model("wrong_length"),
            _config(),
            AttributionOptions(),
        )
    assert not (tmp_path / "o" / "analysis.json").exists()
    with pytest.raises(InputError, match="has no attribute 'nope'"):
        load_model(_model("nope"))
    with pytest.raises(InputError, match="cannot import"):
        load_model("no_such_pkg_xyz.mod:predict")


def test_hanging_callable_times_out(tmp_path: Path, data: dict) -> None:
    start = time.monotonic()
    with pytest.raises(ModelUnavailable, match=r"slow: batch 1 of \d+ .*no answer within 0.3 s"):
        baseline_attribution(
            Store(),
            [data["baseline"]],
            str(tmp_path / "o"),
            _model("slow"),
            _config(),
            AttributionOptions(timeout=0.3),
        )
    assert time.monotonic() - start < 5
    assert issubclass(ModelUnavailable, StorageError)


def test_module_spec_imports_from_the_working_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    model = load_model("fixtures.models.attribution_models:linear")
    assert model.predict(np.array([[1.0, 0, 0, 0]]), "t")[0, 0] == 3.5 and model.calls == 1


def test_bad_config_and_bad_baseline(tmp_path: Path, data: dict) -> None:
    bad = tmp_path / "cfg.json"
    bad.write_text(json.dumps({"methods": {"shap": {"agg_method": "max"}}}))
    with pytest.raises(SchemaError, match="agg_method"):
        load_config(Store(), str(bad))
    bad.write_text(json.dumps({"headers": FEATURES}))
    with pytest.raises(SchemaError, match="methods"):
        load_config(Store(), str(bad))
    with pytest.raises(InputError, match="baseline row 1 has 3 values, expected 4"):
        baseline_attribution(
            Store(),
            [data["baseline"]],
            str(tmp_path / "o"),
            _model("linear"),
            _config(baseline=[[0, 0, 0]]),
            AttributionOptions(),
        )
    not_analysis = tmp_path / "c.json"
    not_analysis.write_text(json.dumps({"version": "1.0"}))
    with pytest.raises(SchemaError, match="explanations"):
        run_attribution(
            Store(),
            [data["current"]],
            str(tmp_path / "r"),
            _model("linear"),
            _config(),
            str(not_analysis),
            AttributionOptions(),
        )


def test_baseline_from_a_file(tmp_path: Path, data: dict) -> None:
    bl = tmp_path / "bl.csv"
    bl.write_text("1,1,1,1\n-1,-1,-1,-1\n")
    cfg = _config(baseline=str(bl))
    res = baseline_attribution(
        Store(), [data["baseline"]], str(tmp_path / "o"), _model("linear"), cfg, AttributionOptions()
    )
    vals = np.array(
        list(res.analysis["explanations"]["kernel_shap"]["label0"]["global_shap_values"].values())
    )
    assert np.abs(vals - np.abs(W * data["x"]).mean(axis=0)).max() < 1e-6


# -- HTTP endpoint -------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.server.requests += 1
        if self.server.mode == "slow":
            time.sleep(3)
        if self.server.mode == "error":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"internal failure\n")
            return
        if self.headers["Content-Type"] == "application/jsonlines":
            rows = np.array(
                [json.loads(line)["features"] for line in body.splitlines() if line.strip()], dtype=float
            )
        else:
            rows = np.array([[float(v) for v in r] for r in csv.reader(io.StringIO(body)) if r])
        w = W[::-1] if self.server.mode == "switched" else W
        preds = 0.5 + rows @ w
        if self.headers["Content-Type"] == "application/jsonlines":
            out = "".join(json.dumps({"score": float(p)}) + "\n" for p in preds)
            ctype = "application/jsonlines"
        else:
            out = "".join(f"{float(p)!r}\n" for p in preds)
            ctype = "text/csv"
        data = out.encode()
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    mode = "linear"
    requests = 0


@pytest.fixture()
def endpoint():
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("content_type", ["text/csv", "application/jsonlines"])
def test_http_endpoint_end_to_end(tmp_path: Path, data: dict, endpoint: _Server, content_type: str) -> None:
    url = f"http://127.0.0.1:{endpoint.server_address[1]}/invocations"
    cfg = _config()
    cfg["predictor"] = {"content_type": content_type}
    opts = AttributionOptions(max_records=100, batch_size=500)
    base = baseline_attribution(Store(), [data["baseline"]], str(tmp_path / "b"), url, cfg, opts)
    assert base.model_calls == endpoint.requests == -(-(1 + 100 + 100 * 14) // 500)
    sample = data["x"][np.sort(np.random.default_rng(0).choice(300, 100, replace=False))]
    vals = np.array(
        list(base.analysis["explanations"]["kernel_shap"]["label0"]["global_shap_values"].values())
    )
    assert np.abs(vals - np.abs(W * sample).mean(axis=0)).max() < 1e-6
    same = run_attribution(
        Store(), [data["current"]], str(tmp_path / "s"), url, cfg, base.outputs["analysis"], opts
    )
    assert same.violations == []
    endpoint.mode = "switched"
    drift = run_attribution(
        Store(), [data["current"]], str(tmp_path / "d"), url, cfg, base.outputs["analysis"], opts
    )
    assert [v["constraint_check_type"] for v in drift.violations] == ["feature_attribution_drift_check"]


def test_http_timeout_error_and_unreachable(tmp_path: Path, data: dict, endpoint: _Server) -> None:
    url = f"http://127.0.0.1:{endpoint.server_address[1]}/invocations"
    endpoint.mode = "slow"
    start = time.monotonic()
    with pytest.raises(ModelUnavailable, match=r"invocations: batch 1 of \d+ .*no answer within 0.5 s"):
        baseline_attribution(
            Store(), [data["baseline"]], str(tmp_path / "o"), url, _config(), AttributionOptions(timeout=0.5)
        )
    assert time.monotonic() - start < 2.5
    endpoint.mode = "error"
    with pytest.raises(ModelUnavailable, match="HTTP 500: internal failure"):
        baseline_attribution(
            Store(), [data["baseline"]], str(tmp_path / "o"), url, _config(), AttributionOptions()
        )
    port = endpoint.server_address[1]
    endpoint.shutdown()
    endpoint.server_close()
    with pytest.raises(ModelUnavailable, match="cannot reach the endpoint"):
        baseline_attribution(
            Store(),
            [data["baseline"]],
            str(tmp_path / "o"),
            f"http://127.0.0.1:{port}/x",
            _config(),
            AttributionOptions(timeout=2),
        )


def test_save_local_shap_values(tmp_path: Path, data: dict) -> None:
    cfg = _config(save_local_shap_values=True)
    res = baseline_attribution(
        Store(),
        [data["baseline"]],
        str(tmp_path / "o"),
        _model("linear"),
        cfg,
        AttributionOptions(max_records=None),
    )
    local = np.loadtxt(res.outputs["local_shap_values"], delimiter=",", skiprows=1)
    assert Path(res.outputs["local_shap_values"]).read_text().splitlines()[0] == "a,b,c,d"
    assert np.abs(local - W * data["x"]).max() < 1e-6
