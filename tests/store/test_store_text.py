"""User text verbatim (rich markup off) and paths with glob characters read as paths (issue 14 item 11)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmon.cli import console
from mmon.errors import InputError
from mmon.store import Store
from tests.clihelp import run_cli


def _report(folder: Path, feature: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"violations": [{"feature_name": feature, "constraint_check_type": "data_type_check",
                           "description": "Expected [bold]Integral[/bold], saw [red]Fractional"}]}  # fmt: skip
    path = folder / "constraint_violations.json"
    path.write_text(json.dumps(doc))
    return path


def test_feature_names_and_descriptions_are_shown_verbatim(tmp_path: Path, capsys) -> None:
    _report(tmp_path / "run[usd]", "price[usd]")
    code, out, err = run_cli(["violations", tmp_path / "run[usd]"], capsys)
    assert code == 1, err
    assert "price[usd]" in out
    assert "[bold]Integral[/bold]" in out and "[red]Fractional" in out
    assert "run[usd]" in out  # the path in the title


def test_error_lines_keep_brackets(tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["violations", tmp_path / "nope" / "price[usd].json"], capsys)
    assert code == 2
    assert err.startswith("mmon: error: ") and "price[usd].json" in err and err.count("\n") == 1


def test_warnings_keep_brackets(capsys) -> None:
    console.warn("column [bold]price[usd] has [red]no rows")
    assert capsys.readouterr().err == "mmon: warning: column [bold]price[usd] has [red]no rows\n"


def test_executions_status_is_styled_without_markup(tmp_path: Path, capsys) -> None:
    _report(tmp_path / "2026" / "11" / "21" / "13", "a[b]")
    code, out, _ = run_cli(["executions", tmp_path], capsys)
    assert (
        code == 0
        and "CompletedWithViolations" in out
        and "[" not in out.split("CompletedWithViolations")[0][-3:]
    )


def test_a_file_named_with_brackets_is_a_path_not_a_glob(tmp_path: Path, capsys) -> None:
    data = tmp_path / "price[usd].csv"
    data.write_text("price[usd],n\n" + "".join(f"{i}.5,{i}\n" for i in range(50)))
    assert Store().expand([str(data)]) == [str(data)]
    code, out, err = run_cli(["baseline", data, "-o", tmp_path / "base", "--json"], capsys)
    assert code == 0, err
    stats = json.loads((tmp_path / "base" / "statistics.json").read_text())
    assert [f["name"] for f in stats["features"]] == ["price[usd]", "n"]
    # a real pattern still globs, and one that matches nothing is still an error
    (tmp_path / "a1.csv").write_text("x\n1\n")
    assert Store().expand([str(tmp_path / "a[0-9].csv")]) == [str(tmp_path / "a1.csv")]
    with pytest.raises(InputError, match="matches no file"):
        Store().expand([str(tmp_path / "b[0-9].csv")])


def test_an_s3_key_with_brackets_is_read_as_a_key(
    s3_store: Store, s3_bucket: str, s3_env, tmp_path: Path, capsys
) -> None:
    url = f"{s3_bucket}/in/price[usd].csv"
    s3_store.write_bytes(url, b"price[usd],n\n" + b"".join(f"{i}.5,{i}\n".encode() for i in range(50)))
    assert s3_store.expand([url]) == [url]
    code, _, err = run_cli(["baseline", url, "-o", tmp_path / "base", "-q"], capsys)
    assert code == 0, err
    stats = json.loads((tmp_path / "base" / "statistics.json").read_text())
    assert stats["dataset"]["item_count"] == 50
