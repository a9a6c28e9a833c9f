"""Storage faults on the real S3 server (SeaweedFS), killed at exact requests through tests/s3proxy.py.

Issue 15 items 10-13: a report is one execution's or the previous one's, never a mix; a dead
server gives one error line; a missing bucket is found before the work (exit 3); a failed
scheduled run does not block the rerun of its hour.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mmon.publish import MARKER_NAME, read_report
from mmon.store import Store
from tests.clihelp import run_cli
from tests.conftest import S3_KEY, S3_SECRET
from tests.s3proxy import S3Proxy

ROOT = Path(__file__).resolve().parents[2]
REPORT = ["constraint_violations.json", "statistics.json", "cloudwatch_metrics.jsonl", "metrics.prom"]


@pytest.fixture
def proxy(s3_endpoint: str):
    host, port = s3_endpoint.split("//", 1)[1].split(":")
    p = S3Proxy((host, int(port)))
    yield p
    p.close()


def _env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": S3_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_REGION": "us-east-1",
    }


def _mmon(args: list[str], endpoint: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **_env(endpoint), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "mmon", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _datasets(tmp_path: Path) -> tuple[Path, Path]:
    """A (integral ages, 300 rows) and B (ages sent as floats, 200 rows): different reports."""
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("age,city\n" + "".join(f"{20 + i % 50},{'xyz'[i % 3]}\n" for i in range(300)))
    b.write_text("age,city\n" + "".join(f"{20 + i % 50}.5,{'xyz'[i % 3]}\n" for i in range(200)))
    return a, b


def _signature(store: Store, folder: str) -> tuple[str | None, int, int]:
    """(execution id, violations, rows) of the report a reader sees; raises if it cannot see one."""
    exec_id, files = read_report(store, folder, REPORT[:2])
    violations = len(json.loads(files["constraint_violations.json"])["violations"])
    rows = json.loads(files["statistics.json"])["dataset"]["item_count"]
    return exec_id, violations, rows


@pytest.mark.slow
def test_server_killed_at_each_write_never_leaves_a_mixed_report(
    tmp_path: Path, s3_endpoint: str, s3_bucket: str, proxy: S3Proxy, monkeypatch, capsys
) -> None:
    a, b = _datasets(tmp_path)
    direct = Store({"endpoint_url": s3_endpoint, "key": S3_KEY, "secret": S3_SECRET})
    for k, v in _env(proxy.endpoint).items():
        monkeypatch.setenv(k, v)
    base, out = f"{s3_bucket}/base", f"{s3_bucket}/mon"
    code, _, err = run_cli(["baseline", a, "-o", base, "-q"], capsys)
    assert code == 0, err
    run = ["--baseline-statistics", f"{base}/statistics.json", "--baseline-constraints", f"{base}/constraints.json",
           "-o", out, "-q"]  # fmt: skip

    code, _, err = run_cli(["run", a, *run], capsys)
    assert code == 0, err
    report_a = _signature(direct, out)
    assert report_a[1:] == (0, 300)
    proxy.requests.clear()
    code, _, err = run_cli(["run", b, *run], capsys)
    assert code == 1, err
    report_b = _signature(direct, out)
    assert report_b[1:][1] == 200 and report_b[1] > 0
    puts = proxy.count("PUT")
    assert puts == 2 * len(REPORT) + 2  # staging copies, the marker, the final names, the marker complete

    # The cuts that matter: the first and the last staging copy, the marker, the first final name and the
    # marker's completion (every other PUT is one of these kinds again; CI time is budgeted).
    n = len(REPORT)
    seen = set()
    for k in sorted({1, n, n + 1, n + 2, puts}):
        code, _, err = run_cli(["run", a, *run], capsys)  # back to a complete report A
        assert code == 0, err
        before = _signature(direct, out)
        proxy.cut_at(k, "PUT")
        code, _, err = run_cli(["run", b, *run], capsys)
        proxy.restore()
        assert code == 3, (k, err)
        assert err.startswith("mmon: error: ") and err.count("\n") == 1, (k, err)
        now = _signature(direct, out)
        assert now[1:] in (report_a[1:], report_b[1:]), k  # one execution's report, never a mix
        assert now[0] == before[0] or now[1:] == report_b[1:], k
        code, stdout, _ = run_cli(["violations", out, "--json"], capsys)
        assert json.loads(stdout)["count"] == now[1], k  # mmon violations agrees with the statistics
        seen.add(now[1:])
    assert seen == {report_a[1:], report_b[1:]}  # the cut fell both before and after the marker

    # rerun after the restart: a complete report, every final name matching the marker
    code, _, err = run_cli(["run", b, *run], capsys)
    assert code == 1, err
    marker = json.loads(direct.read_bytes(f"{out}/{MARKER_NAME}"))
    for name in REPORT:
        assert len(direct.read_bytes(f"{out}/{name}")) == marker["files"][name]["size"]
    assert _signature(direct, out)[1:] == report_b[1:]


@pytest.mark.slow
def test_scheduled_run_killed_mid_publish_then_rerun_at_once(
    tmp_path: Path, s3_endpoint: str, s3_bucket: str, proxy: S3Proxy
) -> None:
    a, b = _datasets(tmp_path)
    base, out = f"{s3_bucket}/base", f"{s3_bucket}/mon"
    r = _mmon(["baseline", a, "-o", base, "-q"], s3_endpoint)
    assert r.returncode == 0, r.stderr
    args = ["run", b, "--baseline-statistics", f"{base}/statistics.json", "--baseline-constraints",
            f"{base}/constraints.json", "-o", out, "--scheduled-time", "2026-11-21T13:00Z", "-q"]  # fmt: skip
    proxy.cut_at(6, "PUT")  # lock, 4 staging copies, then the server dies while the marker is sent
    r = _mmon(args, proxy.endpoint)
    assert r.returncode == 3, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("mmon: error: "), r.stderr
    proxy.restore()
    direct = Store({"endpoint_url": s3_endpoint, "key": S3_KEY, "secret": S3_SECRET})
    assert direct.exists(f"{out}/2026/11/21/13/.mmon-execution.lock")  # the store was down: the lock stayed
    r = _mmon(["executions", out, "--json"], s3_endpoint)
    [entry] = json.loads(r.stdout)["executions"]
    assert entry["status"] == "Failed" and "process is gone" in entry["message"]
    r = _mmon(args, proxy.endpoint)  # the same hour, at once: the dead run's lock is taken over
    assert r.returncode == 1, r.stderr
    r = _mmon(["executions", out, "--json"], s3_endpoint)
    [entry] = json.loads(r.stdout)["executions"]
    assert entry["status"] == "CompletedWithViolations" and entry["violations"] > 0
    assert _signature(direct, f"{out}/2026/11/21/13")[1:] == (entry["violations"], 200)


@pytest.mark.slow
def test_server_dying_during_a_large_put_prints_one_line(
    tmp_path: Path, s3_endpoint: str, s3_bucket: str, proxy: S3Proxy
) -> None:
    wide = tmp_path / "wide.csv"
    cols = 300
    wide.write_text(",".join(f"c{j}" for j in range(cols)) + "\n"
                    + "".join(",".join(str((i * j) % 97) for j in range(cols)) + "\n" for i in range(200)))  # fmt: skip
    proxy.cut_at(2, "PUT")  # statistics.json (hundreds of KiB) is being sent when the server dies
    r = _mmon(["baseline", wide, "-o", f"{s3_bucket}/base"], proxy.endpoint)
    assert r.returncode == 3, r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    assert "Task exception" not in r.stderr and "Traceback" not in r.stderr


def test_abandoned_aiohttp_task_errors_are_not_printed(s3_endpoint: str) -> None:
    """The mechanism behind the previous test, deterministic: a failed, never-awaited aiohttp task."""
    script = textwrap.dedent(
        """
        import asyncio, gc, sys, time
        import aiohttp, fsspec.asyn
        from mmon.store import Store
        if sys.argv[1] == "mmon":
            Store({"endpoint_url": "http://127.0.0.1:9"}).fs("s3://")
        async def body_writer():
            raise aiohttp.ClientConnectionResetError("Cannot write to closing transport")
        async def abandon():
            t = asyncio.ensure_future(body_writer())
            await asyncio.sleep(0.05)
            del t
        fsspec.asyn.sync(fsspec.asyn.get_loop(), abandon)
        gc.collect()
        time.sleep(0.1)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    noisy = subprocess.run(
        [sys.executable, "-c", script, "raw"], env=env, capture_output=True, text=True, timeout=120
    )
    assert "Task exception was never retrieved" in noisy.stderr  # what users saw
    quiet = subprocess.run(
        [sys.executable, "-c", script, "mmon"], env=env, capture_output=True, text=True, timeout=120
    )
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_output_to_a_missing_bucket_fails_before_the_work(
    tmp_path: Path, s3_endpoint: str, monkeypatch, capsys
) -> None:
    a, _ = _datasets(tmp_path)
    for k, v in _env(s3_endpoint).items():
        monkeypatch.setenv(k, v)
    store = Store()
    code, _, err = run_cli(["baseline", a, "-o", "s3://no-such-bucket-mmon/base", "-q"], capsys)
    assert code == 3, err
    assert (
        err == "mmon: error: s3://no-such-bucket-mmon/base: the bucket 'no-such-bucket-mmon' does not exist\n"
    )
    assert not store.fs("s3://").exists("s3://no-such-bucket-mmon")  # SeaweedFS would have created it on PUT


def test_capture_merge_on_a_missing_bucket_is_an_error(
    tmp_path: Path, s3_endpoint: str, monkeypatch, capsys
) -> None:
    for k, v in _env(s3_endpoint).items():
        monkeypatch.setenv(k, v)
    code, _, err = run_cli(
        ["capture-merge", "--capture", "s3://no-such-capture-mmon/ep/AllTraffic", "--start-time", "2024-01-01T00:00Z",
         "--end-time", "2024-01-01T01:00Z", "-o", tmp_path / "merged", "-q"],
        capsys,
    )  # fmt: skip
    assert code == 3, err
    assert "no-such-capture-mmon" in err and "does not exist" in err and err.count("\n") == 1


def test_publish_on_s3_cleans_up_and_costs_few_requests(
    s3_endpoint: str, s3_bucket: str, proxy: S3Proxy
) -> None:
    store = Store({"endpoint_url": proxy.endpoint, "key": S3_KEY, "secret": S3_SECRET})
    out = f"{s3_bucket}/rep"
    old = f"{out}/.mmon-staging/20200101T000000Z-0123456789ab/statistics.json"  # a failed publish of 2020
    store.write_bytes(old, b"{}")
    proxy.requests.clear()
    files = {
        f"{out}/constraint_violations.json": b'{"violations": []}',
        f"{out}/statistics.json": b'{"a": 1}',
    }
    exec_id = store.write_many(files)
    methods = [m for m, _ in proxy.requests]
    # 2 staged + marker + a ranged GET for an HTML report of the previous execution (none here) + 2 server-side
    # copies (no HEAD) + marker complete, a bulk delete of the staged copies, a listing of the staging folder, and
    # a listing + bulk delete of the old failed copy
    assert methods.count("PUT") == 6 and methods.count("HEAD") == 0, proxy.requests
    assert len(methods) == 11, proxy.requests
    left = [p for p in store.find(f"{out}/.mmon-staging") if not store.isdir(p)]
    assert left == []
    assert read_report(store, out, ["statistics.json"]) == (exec_id, {"statistics.json": b'{"a": 1}'})
