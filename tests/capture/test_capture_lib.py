"""mmon.capture's writer and middleware without servers: format, layout, delivery, counters, spool.

The records are checked against SageMaker's real capture lines (rebuilt byte for byte) and read
back with ``mmon capture-merge``, the same reader the monitoring runs use.
"""

from __future__ import annotations

import base64
import calendar
import gzip
import json
import math
import multiprocessing
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from mmon.capture import CaptureWriter
from mmon.capture.encode import DEFAULT_CSV_TYPES, DEFAULT_JSON_TYPES, CaptureRecord, capture_line
from tests.capture_parts import one_part
from tests.clihelp import run_cli

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT.parent / "shared" / "reference" / "sagemaker"
NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{3})-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.jsonl(\.gz)?$")


def _t(text: str) -> float:
    """Unix seconds of ``2024-01-01T13:59:59.900Z``-style text."""
    main, _, frac = text.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S")) + (float("0." + frac) if frac else 0.0)


def _files(root: Path, pattern: str = "*.jsonl*") -> list[Path]:
    return sorted(p for p in root.rglob(pattern) if "_mmon_capture_status" not in p.parts)


def _lines(path: Path) -> list[str]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode().splitlines()


def _writer(tmp_path: Path, **kw) -> CaptureWriter:
    kw.setdefault("handle_sigterm", False)
    return CaptureWriter(str(tmp_path / "cap"), "churn", **kw)


# -- format -------------------------------------------------------------------------------------
def test_real_sagemaker_lines_rebuilt_byte_for_byte(shared_dir: Path) -> None:
    lines = (shared_dir / "capture-endpoint-csv.jsonl").read_text().splitlines()
    assert len(lines) == 3
    for line in lines:
        o = json.loads(line)
        i, out, em = o["captureData"]["endpointInput"], o["captureData"]["endpointOutput"], o["eventMetadata"]
        rec = CaptureRecord(
            i["data"].encode(), out["data"].encode(), i["observedContentType"], out["observedContentType"],
            _t(em["inferenceTime"]) + 0.731, em.get("inferenceId"), event_id=em["eventId"],
        )  # fmt: skip
        assert capture_line(rec, DEFAULT_CSV_TYPES, DEFAULT_JSON_TYPES, record_status=True) == line


def test_encodings_ids_and_status(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    t = _t("2024-01-01T10:00:00.250Z")
    assert w.capture(b'{"a": [1, 2]}', b'{"p": 0.5}', content_type="application/json", inference_id="r1", inference_time=t, status=201)
    assert w.capture(b'{"a":1}\n{"a":2}\n', b"0.1\n0.2\n", content_type="application/jsonlines", output_content_type="text/csv; charset=utf-8", inference_time=t)
    assert w.capture(b"\x00\xffPNG", b"cat", content_type="image/png", output_content_type="text/plain", inference_time=t)
    assert w.capture("x,\u00e9", "1", content_type="text/csv", inference_time=t)
    assert w.capture(b"\xff\xfe,1", b"1", content_type="text/csv", inference_time=t)  # not UTF-8: BASE64
    assert w.capture([[1, 2.5, "a,b"], [3, None, "c"]], 0.25, content_type="text/csv", inference_time=t)
    assert w.close(10)
    (f,) = _files(tmp_path / "cap")
    assert f.relative_to(tmp_path / "cap").parts[:6] == ("churn", "AllTraffic", "2024", "01", "01", "10")
    m = NAME.match(f.name)
    assert m and m.groups()[:3] == ("00", "00", "250")  # first record's minute, second, millisecond
    recs = [json.loads(x) for x in _lines(f)]
    assert [list(r) for r in recs] == [["captureData", "eventMetadata", "eventVersion"]] * 6
    enc = [(r["captureData"]["endpointInput"]["encoding"], r["captureData"]["endpointOutput"]["encoding"]) for r in recs]
    assert enc == [("JSON", "JSON"), ("JSON", "CSV"), ("BASE64", "BASE64"), ("CSV", "CSV"), ("BASE64", "CSV"), ("CSV", "CSV")]
    assert recs[0]["captureData"]["endpointInput"]["data"] == '{"a": [1, 2]}'  # verbatim, not re-encoded
    assert recs[1]["captureData"]["endpointInput"]["data"] == '{"a":1}\n{"a":2}\n'
    assert base64.b64decode(recs[2]["captureData"]["endpointInput"]["data"]) == b"\x00\xffPNG"
    assert recs[3]["captureData"]["endpointInput"]["data"] == "x,\u00e9"
    assert base64.b64decode(recs[4]["captureData"]["endpointInput"]["data"]) == b"\xff\xfe,1"
    assert recs[5]["captureData"]["endpointInput"]["data"] == '1,2.5,"a,b"\n3,,c'
    assert recs[0]["eventMetadata"]["inferenceId"] == "r1" and "inferenceId" not in recs[1]["eventMetadata"]
    # By default only SageMaker's keys (README: an extra key would reach record preprocessors).
    assert all(set(r["eventMetadata"]) <= {"eventId", "inferenceId", "inferenceTime"} for r in recs)
    assert {r["eventMetadata"]["inferenceTime"] for r in recs} == {"2024-01-01T10:00:00Z"}
    assert len({r["eventMetadata"]["eventId"] for r in recs}) == 6
    assert all(uuid.UUID(r["eventMetadata"]["eventId"]).version == 4 for r in recs)
    assert all(str(uuid.UUID(r["eventMetadata"]["eventId"])) == r["eventMetadata"]["eventId"] for r in recs)
    opt = CaptureWriter(str(tmp_path / "opt"), "churn", handle_sigterm=False, record_status=True)
    assert opt.capture(b"1", b"2", inference_time=t, status=201) and opt.capture(b"1", b"2", inference_time=t)
    assert opt.close(10)
    (f,) = _files(tmp_path / "opt")
    assert [json.loads(x)["eventMetadata"].get("httpStatus") for x in _lines(f)] == [201, None]
    assert all(r["eventVersion"] == "0" for r in recs)


def test_inference_hour_not_write_hour_and_gzip(tmp_path: Path) -> None:
    """A record at 13:59:59.9 lands in hour 13 although it is written later; gzip files read back."""
    w = _writer(tmp_path, gzip=True)
    w.capture("1", "a", inference_time=_t("2024-03-05T13:59:59.900Z"))
    w.capture("2", "b", inference_time=_t("2024-03-05T14:00:00.100Z"))
    assert w.close(10)
    files = _files(tmp_path / "cap")
    assert [f.parent.name for f in files] == ["13", "14"] and all(f.name.endswith(".jsonl.gz") for f in files)
    assert NAME.match(files[0].name).groups()[:3] == ("59", "59", "900")  # type: ignore[union-attr]
    assert [json.loads(_lines(f)[0])["captureData"]["endpointInput"]["data"] for f in files] == ["1", "2"]


def test_sampling_decided_first_and_exact_counts(tmp_path: Path) -> None:
    w = _writer(tmp_path, sampling_percentage=20)
    kept = sum(w.capture(f"{i},1", "0") for i in range(5000))
    assert w.close(10)
    s = w.stats()
    assert s["sampled_in"] == kept and s["sampled_out"] == 5000 - kept
    assert 800 < kept < 1200  # binomial(5000, 0.2): mean 1000, sd 28
    assert sum(len(_lines(f)) for f in _files(tmp_path / "cap")) == kept == s["records_written"]


def test_files_roll_by_size_and_time(tmp_path: Path) -> None:
    w = _writer(tmp_path, max_file_bytes=2000, max_file_seconds=3600)
    for i in range(100):
        w.capture(f"{i},{'x' * 50}", "0")
    assert w.close(10)
    sizes = [len(_lines(f)) for f in _files(tmp_path / "cap")]
    assert sum(sizes) == 100 and len(sizes) >= 5
    w2 = CaptureWriter(str(tmp_path / "t"), "churn", max_file_seconds=0.3, handle_sigterm=False)
    w2.capture("1", "0")
    deadline = time.monotonic() + 10
    while not _files(tmp_path / "t") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _files(tmp_path / "t"), "the file was not closed and uploaded after max_file_seconds"
    w2.capture("2", "0")
    assert w2.close(10) and len(_files(tmp_path / "t")) == 2


def test_queue_full_drops_and_never_blocks(tmp_path: Path) -> None:
    release, entered = threading.Event(), threading.Event()

    def stuck_store(url: str, body: bytes) -> None:
        entered.set()
        release.wait(30)  # an upload that hangs: the background thread is busy
        raise OSError("store unreachable")

    w = _writer(tmp_path, max_queue_records=50, max_file_seconds=0.01, status_interval=None)
    w._put_hook = stuck_store
    w.capture("first", "0")
    assert entered.wait(10)  # the worker took it and hangs in the upload
    worst = 0.0
    for i in range(2000):
        t0 = time.perf_counter()
        w.capture(f"{i}", "0")
        worst = max(worst, time.perf_counter() - t0)
    s = w.stats()
    assert s["captured"] == 51 and s["dropped_queue_full"] == 2000 - 50
    # A blocking put would wait for the hung store (30 s); a loaded machine may pause a call briefly.
    assert worst < 1.0, f"capture() took {worst * 1000:.1f} ms while the store hung"
    release.set()
    w._put_hook = None
    assert w.close(15)
    assert w.stats()["records_written"] == 51 and w.stats()["upload_errors"] >= 1


def test_retries_use_the_same_key(tmp_path: Path) -> None:
    seen: list[str] = []

    def flaky(url: str, body: bytes) -> None:
        seen.append(url)
        if len(seen) <= 2:
            raise ConnectionError("503 Slow Down")
        Path(url).parent.mkdir(parents=True, exist_ok=True)
        Path(url).write_bytes(body)

    w = _writer(tmp_path, status_interval=None)
    w.min_backoff = 0.05
    w._put_hook = flaky
    for i in range(10):
        w.capture(str(i), "0")
    assert w.close(10)
    assert len(seen) == 3 and len(set(seen)) == 1  # a retry writes the same key again
    assert w.stats()["upload_errors"] == 2 and w.stats()["records_written"] == 10
    assert len(_files(tmp_path / "cap")) == 1


def test_errors_are_counted_never_raised(tmp_path: Path) -> None:
    calls = []

    def redact(rec: CaptureRecord) -> CaptureRecord | None:
        calls.append(rec.inference_id)
        if rec.inference_id == "boom":
            raise RuntimeError("bad hook")
        if rec.inference_id == "drop":
            return None
        rec.input_data = b"REDACTED"
        return rec

    w = _writer(tmp_path, redact=redact, max_payload_bytes=100)
    assert w.capture({1, 2}, "0", content_type="application/json") is False  # a set is not JSON
    assert w.capture("x" * 200, "0") is False  # over max_payload_bytes
    assert w.ground_truth("id", 1) is False  # no ground_truth_destination
    for rid in ("boom", "drop", "keep"):
        assert w.capture("secret", "0", inference_id=rid)
    assert w.close(10)
    s = w.stats()
    assert (s["dropped_error"], s["dropped_too_large"], s["dropped_redact_error"], s["dropped_redacted"]) == (2, 1, 1, 1)
    (f,) = _files(tmp_path / "cap")
    (line,) = _lines(f)
    assert json.loads(line)["captureData"]["endpointInput"]["data"] == "REDACTED"
    assert s["last_error"]


def test_prometheus_text_matches_stats(tmp_path: Path) -> None:
    w = _writer(tmp_path, sampling_percentage=50)
    for i in range(200):
        w.capture(str(i), "0")
    assert w.close(10)
    text, s = w.prometheus(), w.stats()
    sample = re.compile(r'^(mmon_capture_[a-z_]+)\{endpoint="churn",variant="AllTraffic"(?:,reason="([a-z_]+)")?\} (\d+(?:\.\d+)?)$')
    values = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) mmon_capture_[a-z_]+ .+$", line), line
            continue
        m = sample.match(line)
        assert m, line
        values[(m.group(1), m.group(2))] = float(m.group(3))
    assert values[("mmon_capture_sampled_in_total", None)] == s["sampled_in"]
    assert values[("mmon_capture_sampled_out_total", None)] == s["sampled_out"] == 200 - s["sampled_in"]
    assert values[("mmon_capture_records_written_total", None)] == s["records_written"]
    assert values[("mmon_capture_dropped_total", "queue_full")] == 0


def _child_capture(dest: str, q: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from mmon.capture.writer import _writers

    (w,) = list(_writers)
    ok = w.capture("child", "0")
    w.close(10)
    q.put((ok, w.stats()["records_written"], w.stats()["captured"]))


def test_fork_gets_its_own_thread_and_counters(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    w.capture("parent", "0")
    assert w.flush(10)
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_capture, args=(str(tmp_path), q))
    p.start()
    p.join(30)
    assert q.get(timeout=5) == (True, 1, 1)  # the child started its own thread; parent's counts not inherited
    assert w.capture("parent again", "0") and w.close(10)
    data = sorted(json.loads(x)["captureData"]["endpointInput"]["data"] for f in _files(tmp_path / "cap") for x in _lines(f))
    assert data == ["child", "parent", "parent again"]


def test_import_is_lazy() -> None:
    code = "import sys, mmon.capture; print(sorted(m for m in sys.modules if m.startswith(('mmon.capture.writer', 'mmon.capture.middleware', 'starlette', 'flask'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


# -- ground truth and the round trip through capture-merge --------------------------------------
def test_ground_truth_layout_and_merge(tmp_path: Path, shared_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt = tmp_path / "gt"
    w = _writer(tmp_path, ground_truth_destination=str(gt))
    t0 = _t("2024-02-01T09:10:00Z")
    for i in range(20):
        w.capture(f"{i},{i * 2}", f"{i % 2}", inference_id=f"req-{i}", inference_time=t0 + i)
    for i in range(0, 20, 2):
        w.ground_truth(f"req-{i}", i % 4 == 0, collected_at=t0 + 600)
    assert w.close(10)
    (lf,) = _files(gt)
    assert lf.relative_to(gt).parts[:4] == ("2024", "02", "01", "09")
    real = (shared_dir / "ground-truth.csv-label.jsonl").read_text().strip()
    first = _lines(lf)[0]
    assert first == real.replace("01d3c1a8-aa99-4149-9d5e-78bea047a788", "req-0").replace('"data": "0"', '"data": "1"')
    code, out, err = run_cli(
        ["capture-merge", "--capture", tmp_path / "cap" / "churn" / "AllTraffic", "--ground-truth", gt, "--output",
         tmp_path / "m", "--start-time", "2024-02-01T09:00:00Z", "--end-time", "2024-02-01T10:00:00Z", "--json"], capsys)  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    c, g = summary["capture"], summary["ground_truth"]
    assert (c["records"], c["duplicates"], g["labels"], g["matched"], g["captured_without_label"]) == (20, 0, 10, 10, 10)
    merged = [json.loads(x) for x in one_part(tmp_path / "m", "jsonl").read_text().splitlines()]
    labels = {r["eventMetadata"]["inferenceId"]: r["groundTruthData"]["data"] for r in merged}
    assert labels == {f"req-{i}": ("1" if i % 4 == 0 else "0") for i in range(0, 20, 2)}


def test_round_trip_statistics_equal_profiling_the_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Captured CSV rows -> capture-merge -> run gives the statistics of baselining the rows themselves."""
    import numpy as np

    rng = np.random.default_rng(7)
    n = 400
    rows = [(f"{rng.normal(50, 10):.4f}", str(int(rng.integers(0, 9))), ["a", "b", "c"][int(rng.integers(0, 3))]) for _ in range(n)]
    preds = [f"{rng.random():.6f}" for _ in range(n)]
    src = tmp_path / "direct.csv"
    src.write_text("pred,x,k,cat\n" + "".join(f"{p},{','.join(r)}\n" for p, r in zip(preds, rows, strict=True)))
    w = _writer(tmp_path)
    t0 = _t("2024-05-01T03:00:00Z")
    for i, (p, r) in enumerate(zip(preds, rows, strict=True)):
        w.capture(",".join(r), p, inference_time=t0 + i * 5)
    assert w.close(10)
    code, _, err = run_cli(["baseline", src, "--output", tmp_path / "base"], capsys)
    assert code == 0, err
    code, out, err = run_cli(
        ["capture-merge", "--capture", tmp_path / "cap" / "churn" / "AllTraffic", "--output", tmp_path / "m",
         "--start-time", "2024-05-01T03:00:00Z", "--end-time", "2024-05-01T04:00:00Z",
         "--header-from", tmp_path / "base" / "statistics.json", "--json"], capsys)  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["output"]["rows"] == n
    code, _, err = run_cli(
        ["run", tmp_path / "m", "--baseline-statistics", tmp_path / "base" / "statistics.json", "--baseline-constraints",
         tmp_path / "base" / "constraints.json", "--output", tmp_path / "run", "--no-fail-on-violations"], capsys)  # fmt: skip
    assert code in (0, 1), err
    base = json.loads((tmp_path / "base" / "statistics.json").read_text())
    cur = json.loads((tmp_path / "run" / "statistics.json").read_text())
    assert cur["dataset"]["item_count"] == base["dataset"]["item_count"] == n
    # Equal, except that the run's std_dev may differ from the baseline's in the last bit (the two
    # commands sum in a different order; nothing to do with capture).
    assert _same(cur["features"], base["features"])
    assert json.loads((tmp_path / "run" / "constraint_violations.json").read_text())["violations"] == []


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


# -- spool ----------------------------------------------------------------------------------------
_CRASHER = textwrap.dedent(
    """
    import os, sys, time
    from mmon.capture import CaptureWriter
    w = CaptureWriter(sys.argv[1], "churn", spool_dir=sys.argv[2], max_file_seconds=3600, handle_sigterm=False)
    for i in range(int(sys.argv[3])):
        w.capture(f"{i},1", "0", inference_id=str(i))
    time.sleep(1.0)  # the background thread has drained the queue into the spool
    os.kill(os.getpid(), 9)
    """
)


def test_spool_survives_kill_9_and_merge_sees_no_duplicates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest, spool = tmp_path / "cap", tmp_path / "spool"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", _CRASHER, str(dest), str(spool), "300"], env=env, timeout=60)
    assert proc.returncode == -9
    assert not _files(dest)  # nothing uploaded before the crash
    w = CaptureWriter(str(dest), "churn", spool_dir=str(spool), handle_sigterm=False)
    w.capture("after restart", "0", inference_id="new")
    assert w.close(10)
    assert w.stats()["spool_recovered_records"] == 300
    ids = [json.loads(x)["eventMetadata"]["inferenceId"] for f in _files(dest) for x in _lines(f)]
    assert sorted(ids) == sorted([str(i) for i in range(300)] + ["new"])
    assert [p.name for p in spool.iterdir()] == []  # recovered folders removed, own folder left empty
    hour = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime())
    code, out, err = run_cli(["capture-merge", "--capture", dest / "churn" / "AllTraffic", "--output", tmp_path / "m",
                              "--scheduled-time", hour, "--start-offset", "-PT1H", "--end-offset", "PT1H", "--json"], capsys)  # fmt: skip
    assert code == 0, err
    s = json.loads(out)
    assert (s["capture"]["records"], s["capture"]["duplicates"], s["output"]["rows"]) == (301, 0, 301)
    # A file uploaded twice under two names (a crash between an upload and the spool clean-up, had
    # the key not been fixed) is what capture-merge's eventId rule removes:
    (f,) = [f for f in _files(dest) if len(_lines(f)) == 300]
    (f.parent / ("00-00-000-" + f.name[10:])).write_bytes(f.read_bytes())
    code, out, err = run_cli(["capture-merge", "--capture", dest / "churn" / "AllTraffic", "--output", tmp_path / "m2",
                              "--scheduled-time", hour, "--start-offset", "-PT1H", "--end-offset", "PT1H", "--json"], capsys)  # fmt: skip
    s = json.loads(out)
    assert (s["capture"]["records"], s["capture"]["duplicates"], s["output"]["rows"]) == (601, 300, 301)


# -- capture-status ---------------------------------------------------------------------------------
def test_capture_status_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = CaptureWriter(str(tmp_path / "cap"), "churn", max_queue_records=5, handle_sigterm=False)
    hold = threading.Event()
    w._put_hook = lambda url, body: (hold.wait(20), Path(url).parent.mkdir(parents=True, exist_ok=True), Path(url).write_bytes(body))  # type: ignore[func-returns-value]
    for i in range(5):
        w.capture(str(i), "0", inference_time=_t("2024-06-01T07:30:00Z") + i)
    for i in range(3):  # the queue holds 5: these are dropped
        w.capture(str(i), "0")
    hold.set()
    assert w.close(10)
    code, out, err = run_cli(["capture-status", tmp_path / "cap", "--json"], capsys)
    assert code == 0, err
    (v,) = json.loads(out)["variants"]
    assert (v["name"], v["files"], v["records"], v["last_hour"], v["processes"]) == ("churn/AllTraffic", 1, 5, "2024-06-01T07:00:00Z", 1)
    assert v["drops"]["queue_full"] == 3 and v["dropped"] == 3
    code, out, _ = run_cli(["capture-status", tmp_path / "cap" / "churn" / "AllTraffic"], capsys)
    assert code == 0 and "2024-06-01T07:00:00Z" in out and "queue_full 3" in out
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(["capture-status", tmp_path / "empty"], capsys)
    assert code == 2 and "no capture file" in err
    code, _, err = run_cli(["capture-status", tmp_path / "missing"], capsys)
    assert code == 2 and "no such file" in err


def test_capture_status_help_has_examples_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["capture-status", "--help"], capsys)
    assert code == 0 and "mmon capture-status " in out and "Exit codes" in out and "--json" in out


_SIGTERMED = textwrap.dedent(
    """
    import sys, time
    from mmon.capture import CaptureWriter
    w = CaptureWriter(sys.argv[1], "churn", max_file_seconds=3600)   # installs its SIGTERM handler
    for i in range(250):
        w.capture(f"{i},1", "0")
    print("ready", flush=True)
    time.sleep(60)
    """
)


def test_plain_process_sigterm_uploads_everything(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, "-c", _SIGTERMED, str(tmp_path / "cap")], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        assert not _files(tmp_path / "cap")  # the file stays open for an hour: only the shutdown uploads it
        t0 = time.monotonic()
        p.terminate()  # SIGTERM, by PID
        assert p.wait(30) == -15  # the default action still ends the process, after the flush
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert time.monotonic() - t0 < 25
    assert sum(len(_lines(f)) for f in _files(tmp_path / "cap")) == 250


def test_shutdown_deadline_with_a_dead_store(tmp_path: Path) -> None:
    def dead(url: str, body: bytes) -> None:
        raise ConnectionRefusedError("store down")

    w = _writer(tmp_path, flush_timeout=1.0, status_interval=None)
    w._put_hook = dead
    for i in range(40):
        w.capture(str(i), "0")
    t0 = time.monotonic()
    assert w.close() is False
    assert time.monotonic() - t0 < 8  # flush_timeout 1 s (+1 s grace, +1 s join), not the 20 s default
    s = w.stats()
    assert s["dropped_shutdown"] == 40 and s["upload_errors"] >= 1 and s["records_written"] == 0
    assert w.capture("late", "0") is False and w.stats()["dropped_closed"] == 1
    # With a spool the same records are kept on disk and uploaded by the next writer.
    spool = tmp_path / "spool"
    w2 = _writer(tmp_path, flush_timeout=1.0, status_interval=None, spool_dir=str(spool))
    w2._put_hook = dead
    for i in range(40):
        w2.capture(str(i), "0")
    assert w2.close() is False and w2.stats()["left_in_spool"] == 40
    w3 = _writer(tmp_path, spool_dir=str(spool), status_interval=None)
    w3.start()
    assert w3.close(10)
    assert w3.stats()["records_written"] == 40
    assert sum(len(_lines(f)) for f in _files(tmp_path / "cap")) == 40


_SIGTERM_IN_LOCK = textwrap.dedent(
    """
    import os, signal, sys
    from mmon.capture import CaptureWriter
    w = CaptureWriter(sys.argv[1], "churn", max_file_seconds=3600)
    for i in range(100):
        w.capture(f"{i},1", "0")
    with w._lock:  # SIGTERM arrives while the main thread is inside the writer's critical section
        os.kill(os.getpid(), signal.SIGTERM)
    import time
    time.sleep(30)  # the app goes on serving until the flush ends the process
    """
)


def test_sigterm_inside_the_writers_lock_still_flushes(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-c", _SIGTERM_IN_LOCK, str(tmp_path / "cap")], env=env, timeout=60)
    assert p.returncode == -15 and time.monotonic() - t0 < 15
    assert sum(len(_lines(f)) for f in _files(tmp_path / "cap")) == 100


def test_file_of_a_past_hour_is_closed_at_once_and_flush_under_traffic(tmp_path: Path) -> None:
    w = _writer(tmp_path, max_file_seconds=3600)
    w.capture("late", "0", inference_time=time.time() - 3600)  # its hour is over: no reason to wait
    deadline = time.monotonic() + 10
    while not _files(tmp_path / "cap") and time.monotonic() < deadline:
        time.sleep(0.05)
    (f,) = _files(tmp_path / "cap")
    assert _lines(f)[0].count('"data":"late"') == 1
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            w.capture("more", "0")
            time.sleep(0.001)

    t = threading.Thread(target=traffic)
    t.start()
    try:
        w.capture("before flush", "0")
        assert w.flush(10)  # returns (True: in time) although records keep arriving
        assert any('"data":"before flush"' in x for f in _files(tmp_path / "cap") for x in _lines(f))
    finally:
        stop.set()
        t.join()
    assert w.close(10)
    assert w.stats()["records_written"] == w.stats()["captured"]


def test_a_long_queue_is_written_in_batches_without_pending_drops(tmp_path: Path) -> None:
    """Closed files are uploaded between batches: a long queue never overflows max_pending_bytes."""
    w = _writer(tmp_path, max_file_bytes=50_000, max_pending_bytes=500_000, max_queue_records=30_001, tick=5.0)
    row = ",".join(["123.456"] * 40)
    for i in range(30_000):  # queued before the worker's first pass (tick 5 s): ~6 MB of records
        w.capture(row, "0.5", inference_id=str(i))
    assert w.close(20)
    s = w.stats()
    assert s["dropped"] == 0 and s["records_written"] == 30_000
    assert sum(len(_lines(f)) for f in _files(tmp_path / "cap")) == 30_000


def test_prepare_builds_the_s3_client_before_traffic(tmp_path: Path, s3_options: dict[str, str]) -> None:
    """prepare() makes the S3 client the uploads then use (importing s3fs/botocore under traffic
    held the GIL for about a second); local folders need none; a fork must not reuse it."""
    import fsspec

    fs = fsspec.filesystem("s3", key=s3_options["key"], secret=s3_options["secret"],
                           client_kwargs={"endpoint_url": s3_options["endpoint_url"]}, skip_instance_cache=True)  # fmt: skip
    bucket = f"prep{os.getpid()}"
    fs.mkdir(bucket)
    w = CaptureWriter(f"s3://{bucket}/cap", "churn", storage_options=s3_options, handle_sigterm=False, status_interval=None)
    w.prepare()
    ready = w._fs_ready
    assert ready is not None and w.stats()["errors"] == 0
    assert w.capture(b"1,2", b"0.5")
    assert w.close(15)
    assert w._worker is not None and w._worker._fs is ready  # the upload used the prepared client
    (key,) = [k for k in fs.find(f"{bucket}/cap") if k.endswith(".jsonl")]
    assert json.loads(fs.cat_file(key))["captureData"]["endpointInput"]["data"] == "1,2"
    local = _writer(tmp_path, status_interval=None)
    local.prepare()
    assert local._fs_ready is None
    local._reset()  # what a forked child runs
    w._reset()
    assert w._fs_ready is None
