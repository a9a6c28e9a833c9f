"""mmon baseline against a real S3 server (SeaweedFS on 127.0.0.1), through the same code path."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mmon.store import Store
from tests.clihelp import run_cli


def _opts(s3_options: dict[str, str]) -> list[str]:
    out = []
    for k, v in s3_options.items():
        out += ["--storage-option", f"{k}={v}"]
    return out


@pytest.fixture
def dataset(tmp_path: Path) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    n = 5000
    return pl.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": np.round(rng.lognormal(10, 0.5, n), 2),
            "region": rng.choice(["n", "s", "e", "w"], n),
        }
    )


def test_csv_and_parquet_on_s3_match_local(
    dataset: pl.DataFrame, s3_store: Store, s3_bucket: str, s3_options: dict[str, str], tmp_path: Path, capsys
) -> None:
    for i in range(2):
        part = dataset[i * 2500 : (i + 1) * 2500]
        part.write_csv(tmp_path / f"p{i}.csv")
        part.write_parquet(tmp_path / f"p{i}.parquet")
        s3_store.write_bytes(f"{s3_bucket}/train/p{i}.csv", (tmp_path / f"p{i}.csv").read_bytes())
        s3_store.write_bytes(f"{s3_bucket}/pq/p{i}.parquet", (tmp_path / f"p{i}.parquet").read_bytes())
    local = tmp_path / "local"
    (tmp_path / "l").mkdir()
    for i in range(2):
        (tmp_path / "l" / f"p{i}.csv").write_bytes((tmp_path / f"p{i}.csv").read_bytes())
    assert run_cli(["baseline", tmp_path / "l", "-o", local, "-q"], capsys)[0] == 0

    code, out, err = run_cli(["baseline", f"{s3_bucket}/train", "-o", f"{s3_bucket}/base", "-q", *_opts(s3_options)], capsys)
    assert code == 0, err
    assert s3_store.read_bytes(f"{s3_bucket}/base/statistics.json") == (local / "statistics.json").read_bytes()
    assert s3_store.read_bytes(f"{s3_bucket}/base/constraints.json") == (local / "constraints.json").read_bytes()

    # Parquet through polars' own S3 reader, selected by a glob.
    code, _, err = run_cli(
        ["baseline", f"{s3_bucket}/pq/*.parquet", "-o", f"{s3_bucket}/base-pq", "-q", *_opts(s3_options)], capsys
    )
    assert code == 0, err
    assert s3_store.exists(f"{s3_bucket}/base-pq/statistics.json")


def test_settings_from_aws_environment(dataset: pl.DataFrame, s3_bucket: str, s3_env: dict[str, str], tmp_path: Path, capsys) -> None:
    dataset.write_csv(tmp_path / "d.csv")
    code, out, err = run_cli(["baseline", tmp_path / "d.csv", "-o", f"{s3_bucket}/b", "--json"], capsys)
    assert code == 0, err
    store = Store()
    assert store.exists(f"{s3_bucket}/b/statistics.json")
    code, _, err = run_cli(["baseline", f"{s3_bucket}/b/statistics.json", "-f", "json", "-o", tmp_path / "x", "-q"], capsys)
    assert code == 0, err


def test_wrong_credentials_is_a_storage_error(s3_endpoint: str, s3_bucket: str, tmp_path: Path, capsys) -> None:
    (tmp_path / "d.csv").write_text("a\n1\n")
    code, _, err = run_cli(
        ["baseline", tmp_path / "d.csv", "-o", f"{s3_bucket}/x", "-s", f"endpoint_url={s3_endpoint}", "-s", "key=testkey", "-s", "secret=wrong"],
        capsys,
    )
    assert code == 3, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert s3_bucket.split("//")[1] in err
    # Reading with wrong credentials, through polars' reader, is a storage error too.
    code, _, err = run_cli(
        ["baseline", f"{s3_bucket}/nothing.csv", "-o", tmp_path / "o", "-s", f"endpoint_url={s3_endpoint}", "-s", "key=testkey", "-s", "secret=wrong"],
        capsys,
    )
    assert code == 3, err


def test_unreachable_endpoint_fails_fast(tmp_path: Path, capsys) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "d.csv").write_text("a\n1\n")
    t = time.monotonic()
    code, _, err = run_cli(
        ["baseline", tmp_path / "d.csv", "-o", "s3://bucket/x", "-s", f"endpoint_url=http://127.0.0.1:{port}", "-s", "key=k", "-s", "secret=s"],
        capsys,
    )
    assert code == 3, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert time.monotonic() - t < 30


def test_missing_s3_object_is_an_input_error(s3_bucket: str, s3_options: dict[str, str], tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["baseline", f"{s3_bucket}/nope.csv", "-o", tmp_path / "o", *_opts(s3_options)], capsys)
    assert code == 2 and "no such file" in err
