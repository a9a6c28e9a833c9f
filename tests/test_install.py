"""Install as users do: build the sdist and wheel, install the wheel (not editable) into a fresh venv
and run the pipeline from a folder outside the checkout.

This is the test that catches package data missing from the wheel (the JSON Schemas once were) and
packages missing from pyproject.toml's explicit list; `make test` otherwise only sees the editable
install, where every file of the checkout is reachable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _clean_env() -> dict[str, str]:
    # Nothing of the checkout may leak in: no PYTHONPATH, no editable finder of the test venv.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def test_every_package_folder_is_listed() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "mmon").rglob("__init__.py")
    }
    assert on_disk - listed == set(), "add these packages to [tool.setuptools] packages in pyproject.toml"
    assert "mmon.schema_files" in listed


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(ROOT)],
        capture_output=True, text=True, env=_clean_env(), timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # pip prints setuptools' own warnings (deprecated license table, ...) in its output.
    warnings = [
        line for line in (proc.stdout + proc.stderr).splitlines()
        if "Warning" in line and "Location 'file:" not in line
    ]  # fmt: skip
    assert warnings == [], warnings
    (wheel,) = out.glob("mmon-*.whl")
    return {"wheel": wheel, "dir": out}


def test_wheel_holds_the_schemas(built: dict[str, Path]) -> None:
    names = zipfile.ZipFile(built["wheel"]).namelist()
    for schema in (ROOT / "schemas").glob("*.json"):
        assert f"mmon/schema_files/{schema.name}" in names
    # One copy: the schemas are not also somewhere else in the wheel.
    assert not [n for n in names if n.endswith(".json") and not n.startswith("mmon/schema_files/")]


@pytest.mark.slow
def test_wheel_runs_the_pipeline_from_a_fresh_venv(built: dict[str, Path], tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    py = env_dir / "bin" / "python"
    mmon = env_dir / "bin" / "mmon"
    env = _clean_env()
    proc = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", str(built["wheel"])],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    work = tmp_path / "elsewhere"
    work.mkdir()

    def run(*args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        p = subprocess.run(list(args), cwd=work, capture_output=True, text=True, env=env, timeout=300)
        assert p.returncode in ok, f"{args}: rc={p.returncode}\n{p.stdout}\n{p.stderr}"
        return p

    version = run(str(mmon), "--version").stdout.strip()
    assert version.startswith("mmon ")
    # The installed package is the wheel's, not the checkout's.
    where = run(str(py), "-c", "import mmon, mmon.schemas as s; print(mmon.__file__)").stdout.strip()
    assert str(env_dir) in where and str(ROOT) not in where

    run(str(py), "-m", "mmon.demo", "data", "demo")
    run(str(mmon), "baseline", "demo/train.csv", "-o", "base", "--json")
    run(
        str(mmon), "capture-merge", "--capture", "demo/datacapture/demo-endpoint/AllTraffic",
        "--scheduled-time", "2024-01-01T18:00:00Z", "--header-from", "base/statistics.json",
        "--output", "merged",
    )  # fmt: skip
    report = run(
        str(mmon), "run", "merged", "--baseline-statistics", "base/statistics.json",
        "--baseline-constraints", "base/constraints.json", "-o", "report", "--json", ok=(0, 1),
    )  # fmt: skip
    summary = json.loads(report.stdout)
    assert report.returncode == 1 and summary  # the demo's traffic drifts
    shown = run(str(mmon), "violations", "report", "--json", ok=(1,))
    assert json.loads(shown.stdout)
    assert (work / "report" / "constraint_violations.json").is_file()
