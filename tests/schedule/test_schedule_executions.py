"""Execution records and the per-hour lock: contention, stale locks, listing, and 24 simulated hourly runs."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mmon.errors import EXIT_INPUT, InputError
from mmon.schedule.executions import (
    LOCK_NAME,
    RECORD_NAME,
    ExecutionInProgress,
    begin_execution,
    default_message,
    finish_execution,
    list_executions,
)
from mmon.schedule.expressions import next_times, parse_schedule
from mmon.schedule.window import execution_window, format_time, report_prefix, window_hours
from mmon.store import Store, join
from tests.schedule.utc import T

HOUR = T("2026-11-21T13:00Z")
WINDOW = (T("2026-11-21T12:00Z"), HOUR)


def _begin(store: Store, out: str, scheduled: datetime = HOUR, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("settle", 0)
    kw.setdefault("now", scheduled + timedelta(minutes=1))
    return begin_execution(store, report_prefix(out, scheduled), scheduled, (scheduled - timedelta(hours=1), scheduled), **kw)


def test_begin_and_finish_write_the_record_and_remove_the_lock(tmp_path: Path) -> None:
    store, out = Store(), str(tmp_path / "out")
    lock = _begin(store, out, host="cron-a", pid=42)
    prefix = report_prefix(out, HOUR)
    assert os.path.exists(os.path.join(prefix, LOCK_NAME))
    record = finish_execution(lock, "CompletedWithViolations", 3, now=HOUR + timedelta(minutes=2))
    assert not os.path.exists(os.path.join(prefix, LOCK_NAME))
    on_disk = json.loads(Path(prefix, RECORD_NAME).read_text())
    assert on_disk == record
    assert record["status"] == "CompletedWithViolations" and record["violations"] == 3
    assert record["message"] == "CompletedWithViolations: Job completed successfully with 3 violations."
    assert record["scheduled_time"] == "2026-11-21T13:00:00Z"
    assert (record["start_time"], record["end_time"]) == ("2026-11-21T12:00:00Z", "2026-11-21T13:00:00Z")
    assert (record["started"], record["finished"]) == ("2026-11-21T13:01:00Z", "2026-11-21T13:02:00Z")
    assert (record["host"], record["pid"]) == ("cron-a", 42)
    # no temporary files left behind
    assert sorted(os.listdir(prefix)) == [RECORD_NAME]


def test_second_execution_of_the_same_hour_refuses(tmp_path: Path) -> None:
    store, out = Store(), str(tmp_path / "out")
    first = _begin(store, out, host="cron-a", pid=1)
    with pytest.raises(ExecutionInProgress) as exc:
        _begin(store, out, host="cron-b", pid=2, now=HOUR + timedelta(minutes=5))
    message = str(exc.value)
    assert "an execution for 2026-11-21T13:00:00Z is already running" in message
    assert "host cron-a pid 1, started 2026-11-21T13:01:00Z" in message
    assert exc.value.exit_code == EXIT_INPUT and isinstance(exc.value, InputError)
    # another hour is independent
    other = _begin(store, out, HOUR + timedelta(hours=1), host="cron-b")
    finish_execution(other, "Completed")
    finish_execution(first, "Completed")
    # after it finished, a rerun of the hour is allowed and replaces only that hour's record
    rerun = _begin(store, out, host="cron-b", now=HOUR + timedelta(minutes=30))
    finish_execution(rerun, "CompletedWithViolations", 1)
    listed = list_executions(store, out)
    assert [(e["scheduled_time"], e["status"], e["host"]) for e in listed] == [
        ("2026-11-21T13:00:00Z", "CompletedWithViolations", "cron-b"),
        ("2026-11-21T14:00:00Z", "Completed", "cron-b"),
    ]


def test_stale_lock_is_taken_over_and_the_loser_publishes_nothing(tmp_path: Path) -> None:
    store, out = Store(), str(tmp_path / "out")
    crashed = _begin(store, out, host="cron-a")
    # 59 minutes later it still counts as running; after an hour it is taken over
    with pytest.raises(ExecutionInProgress):
        _begin(store, out, host="cron-b", now=HOUR + timedelta(minutes=60))
    taker = _begin(store, out, host="cron-b", now=HOUR + timedelta(minutes=61))
    with pytest.raises(ExecutionInProgress, match="lost its lock to host cron-b"):
        crashed.verify()
    with pytest.raises(ExecutionInProgress, match="nothing was written"):
        finish_execution(crashed, "Completed")
    assert not os.path.exists(os.path.join(report_prefix(out, HOUR), RECORD_NAME))
    record = finish_execution(taker, "Completed")
    assert record["host"] == "cron-b"
    # the loser's release never removes the winner's lock
    again = _begin(store, out, host="cron-c", now=HOUR + timedelta(minutes=70))
    crashed.release()
    assert os.path.exists(again.lock_url)


def test_stale_after_is_configurable(tmp_path: Path) -> None:
    store, out = Store(), str(tmp_path / "out")
    _begin(store, out)
    lock = _begin(store, out, now=HOUR + timedelta(minutes=12), stale_after=timedelta(minutes=10))
    assert lock.verify() is None


def test_an_unreadable_lock_counts_by_its_age(tmp_path: Path) -> None:
    store, out = Store(), str(tmp_path / "out")
    prefix = report_prefix(out, HOUR)
    os.makedirs(prefix)
    Path(prefix, LOCK_NAME).write_text("")  # a crash between create and write
    fresh = datetime.now(UTC)
    with pytest.raises(ExecutionInProgress, match="unreadable lock"):
        begin_execution(store, prefix, HOUR, WINDOW, settle=0, now=fresh)
    lock = begin_execution(store, prefix, HOUR, WINDOW, settle=0, now=fresh + timedelta(hours=2))
    finish_execution(lock, "Completed")


def _race(begin: Callable[[int], Any], n: int) -> tuple[list[Any], list[str]]:
    """``begin(i)`` on ``n`` threads released at once: (what the winners' calls returned, the refusals)."""
    barrier = threading.Barrier(n)
    won: list[Any] = []
    refused: list[str] = []

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            won.append(begin(i))
        except ExecutionInProgress as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return won, refused


def test_simultaneous_starts_exactly_one_wins(tmp_path: Path) -> None:
    store, out = Store(), str(tmp_path / "out")

    def begin(i: int) -> str:
        _begin(store, out, host=f"host-{i}")
        return f"host-{i}"

    won, refused = _race(begin, 8)
    assert len(won) == 1 and len(refused) == 7
    assert all(won[0] in r for r in refused)


def test_context_manager_records_failure(tmp_path: Path) -> None:
    store, out = Store(), str(tmp_path / "out")
    with pytest.raises(RuntimeError), _begin(store, out) as lock:
        raise RuntimeError("the capture bucket is gone\nsecond line")
    record = json.loads(Path(lock.record_url).read_text())
    assert record["status"] == "Failed" and record["message"] == "Failed: the capture bucket is gone"
    assert not os.path.exists(lock.lock_url)
    with _begin(store, out, HOUR + timedelta(hours=1)) as ok:
        finish_execution(ok, "Completed")
    with _begin(store, out, HOUR + timedelta(hours=2)) as unfinished:
        pass
    assert not os.path.exists(unfinished.lock_url) and not os.path.exists(unfinished.record_url)


def test_finish_checks_the_status(tmp_path: Path) -> None:
    lock = _begin(Store(), str(tmp_path / "out"))
    with pytest.raises(InputError, match="Completed, CompletedWithViolations, Failed"):
        finish_execution(lock, "Stopped")
    assert default_message("Completed", 0) == "Completed: Job completed successfully with no violations."


# -- listing -------------------------------------------------------------------------------------


def _simulate_day(store: Store, out: str) -> list[dict]:
    """24 hourly executions of 2026-11-21 (01:00 … next 00:00); every 5th has violations, 17:00 fails."""
    expected = []
    schedule = parse_schedule("hourly")
    for t in next_times(schedule, T("2026-11-21T00:00Z"), 24):
        window = execution_window(t, schedule=schedule)
        lock = begin_execution(store, report_prefix(out, t), t, window, settle=0, now=t + timedelta(minutes=1))
        violations = t.hour % 5 if t.hour % 5 in (1, 3) else 0
        if t.hour == 17:
            status, violations = "Failed", 0
        else:
            status = "CompletedWithViolations" if violations else "Completed"
        finish_execution(lock, status, violations, now=t + timedelta(minutes=3))
        expected.append((format_time(t), status, violations))
    return expected


def test_list_executions_over_a_day(tmp_path: Path) -> None:
    store, out = Store(), str(tmp_path / "out")
    expected = _simulate_day(store, out)
    # noise that must be ignored: other folders, stray files, temp files
    Path(out, "baseline").mkdir()
    Path(out, "baseline", "statistics.json").write_text("{}")
    Path(out, "2026", "11", "21", "05", ".mmon-x.tmp").write_text("")
    Path(out, "2026", "notes.txt").write_text("")
    listed = list_executions(store, out)
    assert [(e["scheduled_time"], e["status"], e["violations"]) for e in listed] == expected
    assert len(listed) == 24 and len(set(e["report"] for e in listed)) == 24
    assert listed[0]["report"] == os.path.join(out, "2026", "11", "21", "01")
    assert listed[-1]["scheduled_time"] == "2026-11-22T00:00:00Z"
    assert all(e["source"] == "record" for e in listed)
    # filters
    assert len(list_executions(store, out, last=5)) == 5
    assert list_executions(store, out, last=5)[-1]["scheduled_time"] == "2026-11-22T00:00:00Z"
    assert list_executions(store, out, last=0) == []
    window = list_executions(store, out, since=T("2026-11-21T10:00Z"), until=T("2026-11-21T12:00Z"))
    assert [e["scheduled_time"][11:13] for e in window] == ["10", "11", "12"]


def test_list_shows_running_abandoned_and_sagemaker_folders(tmp_path: Path) -> None:
    store, out = Store(), str(tmp_path / "out")
    # a SageMaker execution folder: only the report
    sm = Path(report_prefix(out, T("2026-11-21T10:00Z")))
    sm.mkdir(parents=True)
    (sm / "constraint_violations.json").write_text(json.dumps({"violations": [{"feature_name": "a"}] * 2}))
    (sm / "statistics.json").write_text("{}")
    clean = Path(report_prefix(out, T("2026-11-21T11:00Z")))
    clean.mkdir(parents=True)
    (clean / "constraint_violations.json").write_text('{"violations": []}')
    # an execution still running, and one that died two hours ago
    _begin(store, out, T("2026-11-21T12:00Z"), host="cron-a", now=T("2026-11-21T12:01Z"))
    _begin(store, out, T("2026-11-21T09:00Z"), host="cron-b", now=T("2026-11-21T09:01Z"))
    # a folder with a broken record
    broken = Path(report_prefix(out, T("2026-11-21T08:00Z")))
    broken.mkdir(parents=True)
    (broken / RECORD_NAME).write_text("{not json")
    # an empty hour folder is not an execution
    Path(report_prefix(out, T("2026-11-21T07:00Z"))).mkdir(parents=True)
    listed = list_executions(store, out, now=T("2026-11-21T12:30Z"))
    rows = [(e["scheduled_time"][11:13], e["status"], e["violations"], e["source"]) for e in listed]
    assert rows == [
        ("08", "Unknown", None, "record"),
        ("09", "Failed", None, "lock"),
        ("10", "CompletedWithViolations", 2, "report"),
        ("11", "Completed", 0, "report"),
        ("12", "InProgress", None, "lock"),
    ]
    assert "cron-b" in listed[1]["message"] and "did not finish" in listed[1]["message"]
    assert "cron-a" in listed[4]["message"]
    assert "unreadable" in listed[0]["message"]


def test_minute_folders_of_sub_hourly_schedules(tmp_path: Path) -> None:
    store, out = Store(), str(tmp_path / "out")
    schedule = parse_schedule("*/15 * * * *")
    assert schedule.sub_hourly
    times = next_times(schedule, T("2026-11-21T12:50Z"), 5)
    for t in times:
        prefix = report_prefix(out, t, schedule.sub_hourly)
        lock = begin_execution(store, prefix, t, execution_window(t, schedule=schedule), settle=0, now=t)
        finish_execution(lock, "Completed")
    listed = list_executions(store, out)
    assert [e["scheduled_time"] for e in listed] == [format_time(t) for t in times]
    assert listed[0]["report"] == os.path.join(out, "2026", "11", "21", "13", "00")


def test_list_of_an_empty_or_missing_folder(tmp_path: Path) -> None:
    assert list_executions(Store(), str(tmp_path / "nothing")) == []
    assert list_executions(Store(), str(tmp_path)) == []


# -- S3 ------------------------------------------------------------------------------------------


def test_lock_and_listing_on_s3(s3_store: Store, s3_bucket: str) -> None:
    out = f"{s3_bucket}/reports/churn"
    first = _begin(s3_store, out, host="cron-a")
    with pytest.raises(ExecutionInProgress, match="cron-a"):
        _begin(s3_store, out, host="cron-b", settle=0.2)
    finish_execution(first, "CompletedWithViolations", 2)
    assert not s3_store.exists(first.lock_url)
    taker_victim = _begin(s3_store, out, HOUR + timedelta(hours=1), host="cron-a")
    taker = _begin(s3_store, out, HOUR + timedelta(hours=1), host="cron-b", now=HOUR + timedelta(hours=3))
    with pytest.raises(ExecutionInProgress):
        taker_victim.verify()
    finish_execution(taker, "Completed")
    listed = list_executions(s3_store, out)
    assert [(e["scheduled_time"], e["status"], e["host"]) for e in listed] == [
        ("2026-11-21T13:00:00Z", "CompletedWithViolations", "cron-a"),
        ("2026-11-21T14:00:00Z", "Completed", "cron-b"),
    ]
    assert listed[0]["report"] == f"{out}/2026/11/21/13"


def test_simultaneous_starts_on_s3_one_wins(s3_store: Store, s3_bucket: str) -> None:
    out = f"{s3_bucket}/r"
    won, refused = _race(lambda i: _begin(Store(dict(s3_store.options)), out, host=f"host-{i}", settle=0.3), 4)
    # SeaweedFS honours If-None-Match: exactly one conditional PUT creates the lock. (On a server that
    # ignored it, simultaneous writers could both pass; every one but the last owner then fails verify().)
    assert len(won) == 1
    owners = []
    for lock in won:
        try:
            lock.verify()  # type: ignore[attr-defined]
            owners.append(lock)
        except ExecutionInProgress:
            pass
    assert len(owners) == 1 and len(won) + len(refused) == 4


# -- 24 simulated hourly executions over a day of capture data -----------------------------------


def test_24_hourly_executions_over_a_day_of_capture(tmp_path: Path) -> None:
    """Baseline, one day of hourly data folders, 24 scheduled runs with the real checks, then the listing."""
    from mmon.baseline import run_baseline
    from mmon.run import run_data_quality

    store = Store()
    base_csv = tmp_path / "train.csv"
    base_csv.write_text("age,plan\n" + "".join(f"{20 + i % 40},{'basic' if i % 3 else 'pro'}\n" for i in range(300)))
    run_baseline(store, [str(base_csv)], str(tmp_path / "baseline"))
    capture = tmp_path / "capture"
    day = T("2026-11-21T00:00Z")
    for h in range(24):
        folder = capture / report_prefix("", day + timedelta(hours=h)).lstrip(os.sep)
        folder.mkdir(parents=True)
        # hours 06 and 18 carry data the baseline has never seen: a string in a numeric column
        bad = h in (6, 18)
        rows = "".join(f"{'n/a' if bad and i % 2 else 30 + i % 20},{'basic' if i % 2 else 'pro'}\n" for i in range(40))
        (folder / "data.csv").write_text("age,plan\n" + rows)

    out = str(tmp_path / "reports")
    schedule = parse_schedule("hourly")
    for t in next_times(schedule, day, 24):  # 01:00 … next day 00:00, each over the hour before it
        start, end = execution_window(t, schedule=schedule)
        inputs = [str(capture / report_prefix("", h).lstrip(os.sep)) for h in window_hours(start, end)]
        prefix = report_prefix(out, t)
        with begin_execution(store, prefix, t, (start, end), settle=0, schedule="hourly") as lock:
            lock.verify()
            result = run_data_quality(
                store, inputs, str(tmp_path / "baseline" / "statistics.json"),
                str(tmp_path / "baseline" / "constraints.json"), prefix, metric_time=format_time(t),
            )  # fmt: skip
            n = len(result.violations)
            finish_execution(lock, "CompletedWithViolations" if n else "Completed", n, outputs=sorted(result.outputs.values()))

    folders = sorted(str(p.parent) for p in Path(out).rglob(RECORD_NAME))
    assert len(folders) == 24
    for f in folders:
        assert {"constraint_violations.json", "statistics.json", RECORD_NAME} <= set(os.listdir(f))
        assert LOCK_NAME not in os.listdir(f)
    listed = list_executions(store, out)
    assert [e["report"] for e in listed] == folders
    assert [e["scheduled_time"] for e in listed] == [format_time(day + timedelta(hours=h)) for h in range(1, 25)]
    with_violations = {e["scheduled_time"][11:13] for e in listed if e["status"] == "CompletedWithViolations"}
    assert with_violations == {"07", "19"}  # the runs whose window holds hours 06 and 18
    for e in listed:
        on_disk = json.loads(Path(join(e["report"], "constraint_violations.json")).read_text())
        assert e["violations"] == len(on_disk["violations"])
        assert (e["end_time"], e["schedule"]) == (e["scheduled_time"], "hourly")


def test_store_without_conditional_writes() -> None:
    """fsspec's memory store: write, settle, read back; a second start refuses; listing works."""
    import uuid

    store, out = Store(), f"memory://{uuid.uuid4().hex}/out"
    first = _begin(store, out, host="cron-a", settle=0.01)
    with pytest.raises(ExecutionInProgress, match="cron-a"):
        _begin(store, out, host="cron-b", settle=0.01)
    finish_execution(first, "Completed")
    assert [(e["report"], e["status"]) for e in list_executions(store, out)] == [(f"{out}/2026/11/21/13", "Completed")]
