"""Publishing a report (staging + marker): a reader sees one execution's report or the previous one's.

Local disk here (a rename that fails midway is injected by wrapping ``os.replace``); the same
protocol on the real S3 server, killed at each request, is in tests/store/test_s3_faults.py.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from mmon import publish
from mmon.errors import InputError, StorageError
from mmon.publish import MARKER_NAME, STAGING_DIR, read_report, read_report_file
from mmon.store import Store
from mmon.violations import read_violations
from tests.clihelp import run_cli

ROOT = Path(__file__).resolve().parents[2]
SAGEMAKER = ROOT.parent / "shared" / "reference" / "sagemaker"


def _violations(n: int) -> bytes:
    doc = {
        "violations": [
            {
                "feature_name": f"f{i}",
                "constraint_check_type": "data_type_check",
                "description": f"run with {n}",
            }
            for i in range(n)
        ]
    }
    return json.dumps(doc).encode()


def _files(folder: Path, n: int, extra: bool = False) -> dict[str, bytes]:
    files = {
        str(folder / "constraint_violations.json"): _violations(n),
        str(folder / "statistics.json"): json.dumps({"run": n}).encode(),
    }
    if extra:
        files[str(folder / "metrics.prom")] = f"mmon_violations {n}\n".encode()
    return files


def _fail_replace(monkeypatch: pytest.MonkeyPatch, when) -> None:
    real = os.replace

    def replace(src, dst, *a, **k):  # noqa: ANN001, ANN002, ANN003
        if when(str(dst)):
            raise OSError(28, "No space left on device (injected)")
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", replace)


def test_rename_failing_midway_never_leaves_a_mixed_report(tmp_path: Path, monkeypatch, capsys) -> None:
    """statistics.json renamed, constraint_violations.json not: readers still see one execution."""
    store = Store()
    out = tmp_path / "report"
    store.write_many(_files(out, 2))
    final_violations = str(out / "constraint_violations.json")
    _fail_replace(monkeypatch, lambda dst: dst.startswith(final_violations))
    with pytest.raises(StorageError):
        store.write_many(_files(out, 1))
    monkeypatch.undo()
    # On disk the final names are mixed (the new statistics, the old violations) ...
    assert json.loads((out / "statistics.json").read_bytes()) == {"run": 1}
    assert len(json.loads((out / "constraint_violations.json").read_bytes())["violations"]) == 2
    # ... but every reader sees the published execution only: its violations come from the staging copy.
    _, found = read_violations(store, str(out))
    assert len(found) == 1
    exec_id, files = read_report(store, str(out), ["constraint_violations.json", "statistics.json"])
    assert exec_id is not None
    assert json.loads(files["statistics.json"]) == {"run": 1}
    assert len(json.loads(files["constraint_violations.json"])["violations"]) == 1
    code, stdout, _ = run_cli(["violations", out, "--json"], capsys)
    assert code == 1 and json.loads(stdout)["count"] == 1
    # A rerun completes the report and removes its staging copy (a failed run's goes after an hour).
    failed = {p.name for p in (out / STAGING_DIR).iterdir()}
    rerun = store.write_many(_files(out, 1))
    assert len(json.loads((out / "constraint_violations.json").read_bytes())["violations"]) == 1
    assert {p.name for p in (out / STAGING_DIR).iterdir()} == failed and rerun not in failed


def test_failure_while_staging_keeps_the_previous_report(tmp_path: Path, monkeypatch) -> None:
    store = Store()
    out = tmp_path / "report"
    first = store.write_many(_files(out, 2))
    _fail_replace(monkeypatch, lambda dst: STAGING_DIR in dst and dst.endswith("statistics.json"))
    with pytest.raises(StorageError):
        store.write_many(_files(out, 1))
    monkeypatch.undo()
    exec_id, files = read_report(store, str(out), ["constraint_violations.json", "statistics.json"])
    assert exec_id == first
    assert json.loads(files["statistics.json"]) == {"run": 2}
    assert len(read_violations(store, str(out))[1]) == 2


def test_incomplete_report_is_a_storage_error_not_a_mix(tmp_path: Path, monkeypatch, capsys) -> None:
    store = Store()
    out = tmp_path / "report"
    store.write_many(_files(out, 2))
    _fail_replace(monkeypatch, lambda dst: dst.startswith(str(out / "constraint_violations.json")))
    with pytest.raises(StorageError):
        store.write_many(_files(out, 1))
    monkeypatch.undo()
    for p in sorted((out / STAGING_DIR).rglob("*"), reverse=True):  # the staging copy is lost too
        p.unlink() if p.is_file() else p.rmdir()
    with pytest.raises(StorageError, match="incomplete"):
        read_report_file(store, str(out / "constraint_violations.json"))
    code, _, err = run_cli(["violations", out], capsys)
    assert code == 3
    assert err.count("\n") == 1 and "incomplete" in err


def test_file_of_an_earlier_report_is_not_part_of_the_new_one(tmp_path: Path) -> None:
    store = Store()
    out = tmp_path / "report"
    store.write_many(_files(out, 2, extra=True))
    store.write_many(_files(out, 1))  # this run emits no metrics
    assert read_report_file(store, str(out / "statistics.json")) == b'{"run": 1}'
    with pytest.raises(InputError, match="left over"):
        read_report_file(store, str(out / "metrics.prom"))
    assert read_report(store, str(out), ["metrics.prom", "statistics.json"])[1].keys() == {"statistics.json"}


def test_sagemaker_folders_without_a_marker_are_read_as_they_are(tmp_path: Path, capsys) -> None:
    src = SAGEMAKER / "dq-constraint_violations.old-format.sdk-test.json"
    expected = len(json.loads(src.read_text())["violations"])
    assert expected > 0
    code, stdout, err = run_cli(["violations", src, "--json"], capsys)
    assert code == 1, err
    assert json.loads(stdout)["count"] == expected
    folder = tmp_path / "2026" / "11" / "21" / "13"
    folder.mkdir(parents=True)
    (folder / "constraint_violations.json").write_bytes(src.read_bytes())
    assert not (folder / MARKER_NAME).exists()
    code, stdout, _ = run_cli(["violations", folder, "--json"], capsys)
    assert code == 1 and json.loads(stdout)["count"] == expected
    code, stdout, _ = run_cli(["executions", tmp_path, "--json"], capsys)
    assert code == 0
    [entry] = json.loads(stdout)["executions"]
    assert entry["violations"] == expected and entry["status"] == "CompletedWithViolations"


def test_executions_reads_the_published_report_not_the_mixed_files(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    store = Store()
    hour = tmp_path / "2026" / "11" / "21" / "13"
    store.write_many(_files(hour, 3))
    _fail_replace(monkeypatch, lambda dst: dst.startswith(str(hour / "constraint_violations.json")))
    with pytest.raises(StorageError):
        store.write_many(_files(hour, 1))
    monkeypatch.undo()
    code, stdout, _ = run_cli(["executions", tmp_path, "--json"], capsys)
    [entry] = json.loads(stdout)["executions"]
    assert entry["violations"] == 1  # the marker's execution, read from its staging copy (not the stale 3)
    assert entry["report_id"] == json.loads((hour / MARKER_NAME).read_text())["id"]


def test_data_readers_skip_the_publish_bookkeeping(tmp_path: Path, monkeypatch) -> None:
    """A folder holding a report (and a failed publish's staging copy) read as data: neither is data."""
    store = Store()
    out = tmp_path / "data"
    files = {str(out / "part-0.jsonl"): b'{"a": 1}\n', str(out / "part-1.jsonl"): b'{"a": 2}\n'}
    store.write_many(files)
    _fail_replace(monkeypatch, lambda dst: dst.startswith(str(out / "part-0.jsonl")))
    with pytest.raises(StorageError):
        store.write_many(files)
    monkeypatch.undo()
    assert list((out / STAGING_DIR).rglob("*.jsonl"))
    assert store.expand([str(out)]) == sorted(files)


def test_publish_of_files_on_two_stores_is_refused() -> None:
    with pytest.raises(InputError, match="one store"):
        publish._common_folder(["s3://a/x/1.json", "s3://b/y/2.json"])


# -- 14.10: every output follows the umask ------------------------------------------------------


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_outputs_follow_the_umask(tmp_path: Path, capsys, mask: int) -> None:
    """metrics.prom must be readable by node-exporter (another user) under the usual umask 022."""
    data = tmp_path / "d.csv"
    data.write_text("age,city\n" + "".join(f"{20 + i % 50},{'ab'[i % 2]}\n" for i in range(300)))
    old = os.umask(mask)
    try:
        code, _, err = run_cli(["baseline", data, "-o", tmp_path / "base", "-q"], capsys)
        assert code == 0, err
        code, _, err = run_cli(
            ["run", data, "--baseline-statistics", tmp_path / "base" / "statistics.json",
             "--baseline-constraints", tmp_path / "base" / "constraints.json", "-o", tmp_path / "mon",
             "--scheduled-time", "2026-11-21T13:00Z", "-q"],
            capsys,
        )  # fmt: skip
        assert code in (0, 1), err
    finally:
        os.umask(old)
    written = [p for p in (tmp_path / "base").rglob("*") if p.is_file()]
    written += [p for p in (tmp_path / "mon").rglob("*") if p.is_file()]
    names = {p.name for p in written}
    assert {"statistics.json", "constraints.json", "metrics.prom", "execution.json", MARKER_NAME} <= names
    for p in written:
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask, p


def test_lock_follows_the_umask(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from mmon.schedule.executions import begin_execution

    old = os.umask(0o022)
    try:
        t = datetime(2026, 11, 21, 13, tzinfo=UTC)
        lock = begin_execution(Store(), str(tmp_path), t, (t, t), settle=0)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(lock.lock_url).st_mode) == 0o644


def test_staging_left_by_an_old_failed_publish_is_removed(tmp_path: Path) -> None:
    store = Store()
    out = tmp_path / "report"
    old = out / STAGING_DIR / "20200101T000000Z-0123456789ab"
    young = out / STAGING_DIR / publish.new_execution_id()
    for d in (old, young):
        d.mkdir(parents=True)
        (d / "statistics.json").write_text("{}")
    store.write_many(_files(out, 1))
    assert not old.exists() and young.exists()  # a young one may be a publish under way


def test_a_file_edited_after_a_complete_publish_is_read_as_edited(tmp_path: Path, capsys) -> None:
    """SageMaker's workflow: edit the suggested constraints (or a report) by hand; mmon reads the edit."""
    store = Store()
    out = tmp_path / "report"
    store.write_many(_files(out, 2))
    assert json.loads((out / MARKER_NAME).read_text())["state"] == "complete"
    (out / "constraint_violations.json").write_bytes(_violations(3))
    assert len(read_violations(store, str(out))[1]) == 3
    code, stdout, _ = run_cli(["violations", out, "--json"], capsys)
    assert code == 1 and json.loads(stdout)["count"] == 3


# -- issue 18: an HTML report never outlives the execution it describes ---------------------------


def _monitored(tmp_path: Path, capsys) -> tuple[Path, list[str]]:
    """A small baseline and the `mmon run` arguments of a window checked against it (output added by the caller)."""
    data = tmp_path / "d.csv"
    data.write_text("age,city\n" + "".join(f"{20 + i % 50},{'ab'[i % 2]}\n" for i in range(300)))
    code, _, err = run_cli(["baseline", data, "-o", tmp_path / "base", "-q"], capsys)
    assert code == 0, err
    return data, ["run", str(data), "--baseline-statistics", str(tmp_path / "base" / "statistics.json"),
                  "--baseline-constraints", str(tmp_path / "base" / "constraints.json"), "-q"]  # fmt: skip


USER_PAGE = b"<!DOCTYPE html><html><head><title>my notes</title></head><body>mine</body></html>"


def test_a_run_without_report_removes_the_report_of_the_previous_run(tmp_path: Path, capsys) -> None:
    _, run = _monitored(tmp_path, capsys)
    out = tmp_path / "mon"
    code, _, err = run_cli([*run, "-o", out, "--report"], capsys)
    assert code == 0, err
    first = json.loads((out / MARKER_NAME).read_text())["id"]
    assert first in (out / "report.html").read_text()  # the page names the execution it shows
    (out / "notes.txt").write_text("the user's")
    (out / "mine.html").write_bytes(USER_PAGE)
    code, _, err = run_cli([*run, "-o", out], capsys)
    assert code == 0, err
    assert json.loads((out / MARKER_NAME).read_text())["id"] != first
    assert not (out / "report.html").exists()  # it described the first run
    assert (out / "notes.txt").read_text() == "the user's" and (out / "mine.html").read_bytes() == USER_PAGE
    code, _, err = run_cli([*run, "-o", out, "--report"], capsys)  # the next --report writes one again
    assert code == 0, err
    assert json.loads((out / MARKER_NAME).read_text())["id"] in (out / "report.html").read_text()


def test_a_report_html_mmon_did_not_write_is_never_removed(tmp_path: Path) -> None:
    store = Store()
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.html").write_bytes(USER_PAGE)
    store.write_many(_files(out, 1))
    store.write_many(_files(out, 2))
    assert (out / "report.html").read_bytes() == USER_PAGE


def test_the_tag_publish_looks_for_is_in_the_head_of_a_report(tmp_path: Path) -> None:
    from mmon.report import REPORT_FILE, build_report

    assert REPORT_FILE in publish.VIEW_FILES
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "constraint_violations.json").write_bytes((SAGEMAKER / "dq-constraint_violations.old-format.sdk-test.json").read_bytes())
    _, page = build_report(Store(), str(folder))
    assert publish.VIEW_TAG in page.encode()[: publish._VIEW_HEAD]


def test_a_report_built_while_a_new_execution_is_published_is_built_again(tmp_path: Path, monkeypatch, capsys) -> None:
    import mmon.report as report

    _, run = _monitored(tmp_path, capsys)
    out = tmp_path / "mon"
    code, _, err = run_cli([*run, "-o", out], capsys)
    assert code == 0, err
    real, calls = report.build_report, []

    def racing(store: Store, *a, **k):  # noqa: ANN002, ANN003
        got = real(store, *a, **k)
        calls.append(got[0]["header"]["report_id"])
        if len(calls) == 1:  # another run publishes into the folder meanwhile
            code, _, err = run_cli([*run, "-o", out], capsys)
            assert code == 0, err
        return got

    monkeypatch.setattr(report, "build_report", racing)
    report.write_report(Store(), str(out), baseline_statistics=str(tmp_path / "base" / "statistics.json"))
    now = json.loads((out / MARKER_NAME).read_text())["id"]
    assert len(calls) == 2 and calls[0] != now and calls[1] == now
    assert now in (out / "report.html").read_text()


def test_on_s3_a_new_run_removes_the_old_report_and_nothing_else(
    s3_store: Store, s3_bucket: str, s3_options: dict[str, str], tmp_path: Path, capsys
) -> None:
    _, run = _monitored(tmp_path, capsys)
    opts = [x for k, v in s3_options.items() for x in ("-s", f"{k}={v}")]
    out = f"{s3_bucket}/mon"
    code, _, err = run_cli([*run, *opts, "-o", out, "--report"], capsys)
    assert code == 0, err
    assert s3_store.exists(f"{out}/report.html")
    s3_store.write_bytes(f"{out}/notes.txt", b"the user's")
    s3_store.write_bytes(f"{out}/mine.html", USER_PAGE)
    code, _, err = run_cli([*run, *opts, "-o", out], capsys)
    assert code == 0, err
    assert not s3_store.exists(f"{out}/report.html")
    assert s3_store.read_bytes(f"{out}/notes.txt") == b"the user's" and s3_store.read_bytes(f"{out}/mine.html") == USER_PAGE
    s3_store.write_bytes(f"{out}/report.html", USER_PAGE)  # a user's own page of that name stays
    code, _, err = run_cli([*run, *opts, "-o", out], capsys)
    assert code == 0, err
    assert s3_store.read_bytes(f"{out}/report.html") == USER_PAGE
