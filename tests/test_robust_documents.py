"""JSON documents and JSON Lines nested without end, or with numbers no double holds: one line,
exit 2, a location (issue 15 item 3: RecursionError in baseline, run and violations)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.clihelp import run_cli


def one_error(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("mmon: error:"), err
    return lines[0]


def test_deep_jsonl_dataset(tmp_path: Path, capsys) -> None:
    (tmp_path / "d.jsonl").write_text('{"a": 1}\n{"a": ' + "[" * 5000 + "]" * 5000 + "}\n")
    code, _, err = run_cli(["baseline", tmp_path / "d.jsonl", "-o", tmp_path / "out"], capsys)
    assert code == 2  # before: internal error RecursionError
    assert "d.jsonl: line 2: not valid JSON (nested too deep)" in one_error(err)


def test_deep_json_dataset(tmp_path: Path, capsys) -> None:
    (tmp_path / "d.json").write_text('[{"a": 1},\n{"a": ' + "[" * 5000 + "]" * 5000 + "}]")
    code, _, err = run_cli(["baseline", tmp_path / "d.json", "-o", tmp_path / "out"], capsys)
    assert code == 2
    assert "d.json: line 2: not valid JSON (nested too deep)" in one_error(err)


def _baseline(tmp_path: Path, capsys) -> Path:  # type: ignore[no-untyped-def]
    (tmp_path / "d.csv").write_text("a,b\n1,2\n3,4\n")
    assert run_cli(["baseline", tmp_path / "d.csv", "-o", tmp_path / "bl", "-q"], capsys)[0] == 0
    return tmp_path / "bl"


def test_deep_violations_document(tmp_path: Path, capsys) -> None:
    (tmp_path / "v.json").write_text('{"violations": ' + "[" * 5000 + "]" * 5000 + "}")
    code, _, err = run_cli(["violations", tmp_path / "v.json"], capsys)
    assert code == 2  # before: internal error RecursionError
    assert "v.json: not valid JSON: nested too deep" in one_error(err)
    (tmp_path / "w.json").write_text('{"violations": ' + "[" * 900 + "]" * 900 + "}")
    code, _, err = run_cli(["violations", tmp_path / "w.json"], capsys)
    assert code == 2  # parsed by Python (under its limit): refused by the schema with a pointer
    line = one_error(err)
    assert "w.json" in line and " at /violations/0" in line


def test_run_with_a_deep_or_huge_baseline(tmp_path: Path, capsys) -> None:
    bl = _baseline(tmp_path, capsys)
    stats = json.loads((bl / "statistics.json").read_text())
    deep = dict(stats, features=[json.loads("[" * 900 + "]" * 900)] + stats["features"][1:])
    (tmp_path / "deep.json").write_text(json.dumps(deep))
    (tmp_path / "huge.json").write_text(json.dumps(stats).replace('"item_count": 2', '"item_count": 1' + "0" * 400))
    for name in ("deep.json", "huge.json"):
        code, _, err = run_cli(["run", tmp_path / "d.csv", "--baseline-statistics", tmp_path / name,
                                "--baseline-constraints", bl / "constraints.json", "-o", tmp_path / "r"], capsys)  # fmt: skip
        assert code == 2, err
        line = one_error(err)
        assert name in line and " at /" in line and "internal" not in line


def test_kll_parameters_out_of_range_are_schema_errors(tmp_path: Path, capsys) -> None:
    bl = _baseline(tmp_path, capsys)
    stats = json.loads((bl / "statistics.json").read_text())
    stats["features"][0]["numerical_statistics"]["distribution"]["kll"]["sketch"]["parameters"]["c"] = -1
    (tmp_path / "s.json").write_text(json.dumps(stats))
    code, _, err = run_cli(["run", tmp_path / "d.csv", "--baseline-statistics", tmp_path / "s.json",
                            "--baseline-constraints", bl / "constraints.json", "-o", tmp_path / "r"], capsys)  # fmt: skip
    assert code == 2  # before: internal error ValueError (KLL shrinking factor)
    assert "/features/0/numerical_statistics/distribution/kll/sketch/parameters/c" in one_error(err)


def test_non_finite_kll_sketch_value_is_a_schema_error(tmp_path: Path, capsys) -> None:
    bl = _baseline(tmp_path, capsys)
    stats = json.loads((bl / "statistics.json").read_text())
    stats["features"][1]["numerical_statistics"]["distribution"]["kll"]["sketch"]["data"][0][0] = "NaN"
    (tmp_path / "s.json").write_text(json.dumps(stats))
    code, _, err = run_cli(["run", tmp_path / "d.csv", "--baseline-statistics", tmp_path / "s.json",
                            "--baseline-constraints", bl / "constraints.json", "-o", tmp_path / "r"], capsys)  # fmt: skip
    assert code == 2  # before: internal error ValueError (KLL sketch data contains NaN)
    assert "/features/1/numerical_statistics/distribution/kll/sketch/data/0/0" in one_error(err)


def test_a_file_name_too_long_is_bad_input(tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["violations", tmp_path / ("x" * 300)], capsys)
    assert code == 2  # before: exit 3, as if the store had failed
    assert "file name too long" in one_error(err)
