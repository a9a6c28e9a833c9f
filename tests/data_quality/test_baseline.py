"""mmon baseline: statistics checked against numpy/scipy, mergeability, formats, CLI contract."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mmon.readers import DatasetFile, iter_batches
from mmon.stats.profile import ProfileState, profile_batch, profile_batches
from mmon.stats.statistics import read_statistics
from mmon.store import Store
from tests.clihelp import run_cli


def _features(out: Path) -> dict[str, dict]:
    doc = json.loads((out / "statistics.json").read_text())
    return {f["name"]: f for f in doc["features"]}


def test_churn_statistics_match_numpy(shared_dir: Path, tmp_path: Path, capsys) -> None:
    src = shared_dir / "data" / "churn-training-with-header.csv"
    code, _, err = run_cli(["baseline", src, "-o", tmp_path, "-q"], capsys)
    assert code == 0, err
    feats = _features(tmp_path)
    raw = pl.read_csv(src, infer_schema=False)
    assert len(feats) == raw.width == 70
    numeric = 0
    for name in raw.columns:
        f = feats[name]
        x = raw[name].cast(pl.Float64).to_numpy()
        ns = f["numerical_statistics"]
        numeric += 1
        assert ns["common"]["num_present"] == len(x)
        assert ns["sum"] == pytest.approx(float(np.sum(x)), rel=1e-12, abs=1e-9)
        assert ns["mean"] == pytest.approx(float(np.mean(x)), rel=1e-12, abs=1e-12)
        assert ns["std_dev"] == pytest.approx(float(np.std(x)), rel=1e-9, abs=1e-12)
        assert (ns["min"], ns["max"]) == (float(x.min()), float(x.max()))
        # Integral when every value is written without a decimal point (Deequ's regex).
        integral = all("." not in v and "e" not in v.lower() for v in raw[name].to_list())
        assert f["inferred_type"] == ("Integral" if integral else "Fractional")
        # Quantiles from the sketch within KLL's rank error of the exact ones (n = 2333 > 2050:
        # one level-0 compaction, so every rank is off by at most 1 item).
        state = read_statistics(json.loads((tmp_path / "statistics.json").read_text())).features[name]
        assert state.sketch is not None
        for q in (0.1, 0.25, 0.5, 0.75, 0.9):
            v = float(state.sketch.quantile(q))
            rank = np.searchsorted(np.sort(x), v, side="right") / len(x)
            assert abs(rank - q) <= 2 / len(x) + 1e-12 or np.sum(x == v) > 1
        # Bucket counts vs numpy's histogram on the same edges, within the sketch's error.
        edges = [b["lower_bound"] for b in ns["distribution"]["kll"]["buckets"]] + [ns["max"]]
        hist, _ = np.histogram(x, bins=edges)
        counts = [b["count"] for b in ns["distribution"]["kll"]["buckets"]]
        assert sum(counts) == len(x)
        assert np.max(np.abs(np.array(counts) - hist)) <= 2
    assert numeric == 70


def _frame(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "x": [f"{v:.4f}" for v in rng.normal(5, 2, n)],
            "k": [str(v) for v in rng.integers(-50, 50, n)],
            "cat": rng.choice(["a", "b", "c", "d", "e", "f"], n).tolist(),
            "big": [f"id{v}" for v in rng.integers(0, 10**9, n)],
        }
    ).with_columns(pl.when(pl.int_range(n) % 17 == 3).then(None).otherwise(pl.col("k")).alias("k"))


def test_two_halves_merge_into_the_whole(tmp_path: Path) -> None:
    df = _frame(60_000, 1)
    whole = profile_batch(df)
    a, b = profile_batch(df[:25_000]), profile_batch(df[25_000:])
    merged = ProfileState().merge(a).merge(b)
    assert merged.rows == whole.rows == 60_000
    for name in df.columns:
        w, m = whole.columns[name], merged.columns[name]
        assert (w.nulls, w.n_integral, w.n_fractional, w.n_string) == (m.nulls, m.n_integral, m.n_fractional, m.n_string)
        assert m.num_n == w.num_n
        if w.num_n:
            assert m.num_sum == pytest.approx(w.num_sum, rel=1e-12)
            assert m.std_dev() == pytest.approx(w.std_dev(), rel=1e-12)
            assert (m.num_min, m.num_max) == (w.num_min, w.num_max)
            assert m.kll.count == w.kll.count == w.num_n
            values = np.sort(df[name].drop_nulls().cast(pl.Float64).to_numpy())
            for q in (0.05, 0.5, 0.95):
                r = np.searchsorted(values, float(m.kll.quantile(q)), side="right") / len(values)
                assert abs(r - q) < 0.01
        assert (m.categories is None) == (w.categories is None)
        if w.categories is not None:
            assert m.categories == w.categories
        assert m.distinct() == pytest.approx(w.distinct(), rel=0.02)
    assert merged.columns["big"].distinct() == pytest.approx(df["big"].n_unique(), rel=0.04)


def test_batches_of_one_file_are_sketched_sequentially(tmp_path: Path) -> None:
    df = _frame(30_000, 2)
    path = tmp_path / "d.csv"
    df.write_csv(path)
    one = profile_batch(pl.read_csv(path, infer_schema=False))
    many = profile_batches(iter_batches(Store(), DatasetFile(str(path), "csv"), batch_rows=4_000))
    first = profile_batch(pl.read_csv(path, infer_schema=False, n_rows=4_000))
    for name in df.columns:
        # The sketch is one sequential stream, as Deequ sketches one Spark partition.
        assert many.columns[name].kll.to_data() == one.columns[name].kll.to_data()
        values = df[name].cast(pl.Float64, strict=False).drop_nulls().to_numpy()
        if values.size == 0:  # the text columns
            continue
        # The first batch is summed left to right (SageMaker's order, bit for bit); later batches
        # are summed by polars and added on, so the total equals the exact sum to rounding.
        assert first.columns[name].num_sum == float(np.cumsum(values[: first.columns[name].num_n])[-1])
        assert many.columns[name].num_sum == pytest.approx(math.fsum(values), rel=1e-14)
        assert one.columns[name].num_sum == float(np.cumsum(values)[-1])


def test_folder_of_files_equals_concatenation(tmp_path: Path, capsys) -> None:
    df = _frame(20_000, 3)
    (tmp_path / "parts").mkdir()
    for i in range(4):
        df[i * 5000 : (i + 1) * 5000].write_csv(tmp_path / "parts" / f"p{i}.csv")
    df.write_csv(tmp_path / "all.csv")
    assert run_cli(["baseline", tmp_path / "parts", "-o", tmp_path / "o1", "-q"], capsys)[0] == 0
    assert run_cli(["baseline", tmp_path / "all.csv", "-o", tmp_path / "o2", "-q"], capsys)[0] == 0
    f1, f2 = _features(tmp_path / "o1"), _features(tmp_path / "o2")
    for name in df.columns:
        a, b = f1[name], f2[name]
        assert a["inferred_type"] == b["inferred_type"]
        if "numerical_statistics" in a:
            na, nb = a["numerical_statistics"], b["numerical_statistics"]
            assert na["common"] == nb["common"]
            assert na["mean"] == pytest.approx(nb["mean"], rel=1e-12)
            assert na["std_dev"] == pytest.approx(nb["std_dev"], rel=1e-12)
        else:
            assert a["string_statistics"]["common"] == b["string_statistics"]["common"]
            assert a["string_statistics"].get("distribution") == b["string_statistics"].get("distribution")
    # A glob selects the same files.
    assert run_cli(["baseline", str(tmp_path / "parts" / "p*.csv"), "-o", tmp_path / "o3", "-q"], capsys)[0] == 0
    assert (tmp_path / "o3" / "statistics.json").read_bytes() == (tmp_path / "o1" / "statistics.json").read_bytes()


def test_headerless_csv_gets_spark_names(tmp_path: Path, capsys) -> None:
    (tmp_path / "d.csv").write_text("1,a,2.5\n2,b,3.5\n3,a,\n")
    code, out, err = run_cli(["baseline", tmp_path / "d.csv", "--no-header", "-o", tmp_path / "o", "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert [f["name"] for f in doc["features"]] == ["_c0", "_c1", "_c2"]
    f = _features(tmp_path / "o")
    assert f["_c0"]["inferred_type"] == "Integral"
    assert f["_c1"]["string_statistics"]["distribution"]["categorical"]["buckets"] == [
        {"value": "a", "count": 2},
        {"value": "b", "count": 1},
    ]
    assert f["_c2"]["numerical_statistics"]["common"] == {"num_present": 2, "num_missing": 1}
    assert f["_c2"]["numerical_statistics"]["completeness"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "json"])
def test_typed_formats(fmt: str, tmp_path: Path, capsys) -> None:
    df = pl.DataFrame(
        {"i": [1, 2, None, 4], "f": [0.5, 1.5, 2.5, None], "s": ["x", "y", "x", None], "b": [True, False, True, True]}
    )
    path = tmp_path / f"d.{fmt}"
    {"parquet": df.write_parquet, "jsonl": df.write_ndjson, "json": df.write_json}[fmt](path)
    code, _, err = run_cli(["baseline", path, "-o", tmp_path / "o", "-q"], capsys)
    assert code == 0, err
    f = _features(tmp_path / "o")
    assert f["i"]["inferred_type"] == "Integral"
    assert f["i"]["numerical_statistics"]["sum"] == 7.0
    assert f["f"]["inferred_type"] == "Fractional"
    assert f["f"]["numerical_statistics"]["std_dev"] == pytest.approx(float(np.std([0.5, 1.5, 2.5])))
    assert f["s"]["inferred_type"] == "String"
    assert f["b"]["inferred_type"] == "String"


def test_format_flag_overrides_extension(tmp_path: Path, capsys) -> None:
    (tmp_path / "data.txt").write_text("a\n1\n2\n")
    assert run_cli(["baseline", tmp_path / "data.txt", "-o", tmp_path / "o", "-q"], capsys)[0] == 2
    assert run_cli(["baseline", tmp_path / "data.txt", "-f", "csv", "-o", tmp_path / "o", "-q"], capsys)[0] == 0


def test_human_view_and_help(tmp_path: Path, capsys) -> None:
    (tmp_path / "d.csv").write_text("age,city\n30,x\n40,y\n")
    code, out, _ = run_cli(["baseline", tmp_path / "d.csv", "-o", tmp_path / "o"], capsys)
    assert code == 0
    assert "age" in out and "Integral" in out and "statistics.json" in out
    code, out, _ = run_cli(["baseline", "--help"], capsys)
    assert code == 0
    assert "mmon baseline train.csv --output ./baseline" in out
    assert "Exit codes" in out


def test_output_validates_and_reads_back(tmp_path: Path, capsys) -> None:
    from mmon.documents import load_document

    _frame(3000, 5).write_parquet(tmp_path / "d.parquet")
    assert run_cli(["baseline", tmp_path / "d.parquet", "-o", tmp_path / "o", "-q"], capsys)[0] == 0
    store = Store()
    stats = load_document(store, str(tmp_path / "o" / "statistics.json"), "statistics")
    load_document(store, str(tmp_path / "o" / "constraints.json"), "constraints")
    parsed = read_statistics(stats)
    x = parsed.features["x"]
    assert x.sketch is not None and x.sketch.count == x.num_present


def test_many_small_files_with_changing_columns(tmp_path: Path, capsys) -> None:
    # Consecutive small files with the same columns are profiled as one stream; a file with other
    # columns starts a new group; the counts are those of the files one by one.
    parts = tmp_path / "parts"
    parts.mkdir()
    rng = np.random.default_rng(5)
    frames = []
    for i in range(12):
        cols = {"x": rng.normal(size=300).round(3), "k": rng.integers(0, 5, 300)}
        if 4 <= i < 7:
            cols["extra"] = rng.integers(0, 3, 300)
        frame = pl.DataFrame(cols)
        frame.write_parquet(parts / f"p{i:02d}.parquet")
        frames.append(frame)
    code, out, err = run_cli(["baseline", parts, "-o", tmp_path / "out", "--json"], capsys)
    assert code == 0, err
    assert "column 'extra' is in 3 of 12 files; counted as missing in the others" in err
    feats = _features(tmp_path / "out")
    allx = np.concatenate([f["x"].to_numpy() for f in frames])
    ns = feats["x"]["numerical_statistics"]
    assert ns["common"] == {"num_present": 3600, "num_missing": 0}
    assert ns["sum"] == pytest.approx(math.fsum(allx), rel=1e-12)
    assert ns["std_dev"] == pytest.approx(float(np.std(allx)), rel=1e-12)
    assert feats["extra"]["numerical_statistics"]["common"] == {"num_present": 900, "num_missing": 2700}
    levels = ns["distribution"]["kll"]["sketch"]["data"]
    assert sum(len(level) << h for h, level in enumerate(levels)) == 3600
