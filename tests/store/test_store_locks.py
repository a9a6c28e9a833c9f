"""Execution locks (issue 15 item 13): a failed run frees its hour; a dead process's lock is taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mmon.schedule.executions import LOCK_NAME, ExecutionInProgress, begin_execution, list_executions
from mmon.store import Store

T = datetime(2026, 11, 21, 13, tzinfo=UTC)


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_lock_of_a_dead_process_on_this_host_is_taken_over_at_once(tmp_path: Path) -> None:
    store = Store()
    pid = _dead_pid()
    begin_execution(store, str(tmp_path), T, (T, T), settle=0, pid=pid)  # left behind: its process is gone
    lock = begin_execution(store, str(tmp_path), T, (T, T), settle=0)
    assert json.loads((tmp_path / LOCK_NAME).read_text())["token"] == lock.token


def test_lock_of_a_live_process_or_another_host_is_respected(tmp_path: Path) -> None:
    store = Store()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        begin_execution(store, str(tmp_path / "a"), T, (T, T), settle=0, pid=sleeper.pid)
        with pytest.raises(ExecutionInProgress, match="already running"):
            begin_execution(store, str(tmp_path / "a"), T, (T, T), settle=0)
    finally:
        sleeper.kill()
        sleeper.wait()
    # another host: its pid says nothing here, only the age counts
    begin_execution(
        store, str(tmp_path / "b"), T, (T, T), settle=0, pid=_dead_pid(), host=socket.gethostname() + "-x"
    )
    with pytest.raises(ExecutionInProgress):
        begin_execution(store, str(tmp_path / "b"), T, (T, T), settle=0)


def test_executions_shows_a_dead_processs_lock_as_failed(tmp_path: Path) -> None:
    store = Store()
    hour = tmp_path / "2026" / "11" / "21" / "13"
    begin_execution(store, str(hour), T, (T, T), settle=0, pid=_dead_pid())
    [entry] = list_executions(store, str(tmp_path))
    assert entry["status"] == "Failed" and "process is gone" in entry["message"]


def test_a_failed_run_releases_its_lock_even_when_its_record_cannot_be_written(tmp_path: Path) -> None:
    store = Store()
    (tmp_path / "execution.json").mkdir()  # the record cannot be written (as when the store is down)
    with pytest.raises(RuntimeError, match="boom"):
        with begin_execution(store, str(tmp_path), T, (T, T), settle=0):
            raise RuntimeError("boom")
    assert not (tmp_path / LOCK_NAME).exists()
    begin_execution(store, str(tmp_path), T, (T, T), settle=0)  # the hour can be rerun at once


def test_a_scheduled_run_that_fails_leaves_no_lock(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a\n1\n2\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    r = subprocess.run(
        [sys.executable, "-m", "mmon", "run", str(data), "--baseline-statistics", str(tmp_path / "missing.json"),
         "--baseline-constraints", str(tmp_path / "missing2.json"), "-o", str(tmp_path / "mon"),
         "--scheduled-time", "2026-11-21T13:00Z", "-q"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert not list((tmp_path / "mon").rglob(LOCK_NAME))
