"""The streaming merge at scale: event-id dedup in bounded memory (exact even when hashes collide),
and reads feeding batch parses -- the window's counts and bytes as a plain first-wins set gives."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mmon.capture import dedup, merge
from mmon.capture.dedup import SeenIds
from mmon.capture.merge import capture_merge
from mmon.capture.window import Window, parse_time
from mmon.store import Store
from tests.capture_parts import parts


def reference_first(chunks: list[list[str]]) -> list[list[bool]]:
    """First-wins over the whole window, with a Python set of the texts (the old in-memory verdict)."""
    seen: set[str] = set()
    out = []
    for chunk in chunks:
        flags = []
        for v in chunk:
            flags.append(v not in seen)
            seen.add(v)
        out.append(flags)
    return out


@pytest.mark.parametrize("buckets", [1, 3, 2**64])
def test_seen_ids_exact_under_hash_collisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, buckets: int) -> None:
    """With 1 or 3 hash values every id collides with others: the verdict must come from the texts
    read back, never from the hash (2**64: polars' own hash, the real case)."""
    if buckets < 2**64:
        monkeypatch.setattr(SeenIds, "_hash", lambda self, ids: (ids.hash(seed=7).to_numpy() % np.uint64(buckets)))
    rng = random.Random(buckets % 1000)
    chunks = [[f"id-{rng.randrange(400)}" for _ in range(rng.randrange(0, 120))] for _ in range(12)]
    seen = SeenIds(str(tmp_path))
    got = [seen.first(pl.Series("event_id", c, dtype=pl.String)).to_list() for c in chunks]
    assert got == reference_first(chunks)
    assert sum(len(level) for level in seen.levels) == len({v for c in chunks for v in c})  # one hash per kept id


def test_seen_ids_levels_stay_few_and_sorted(tmp_path: Path) -> None:
    seen = SeenIds(str(tmp_path))
    for k in range(40):
        seen.first(pl.Series([f"{k}-{i}" for i in range(50)], dtype=pl.String))
    assert len(seen.levels) <= 8  # log-structured: O(log chunks) arrays to search
    assert all(bool(np.all(level.hashes()[:-1] <= level.hashes()[1:])) for level in seen.levels)
    assert sum(len(level) for level in seen.levels) == 2000
    assert sum(level.top.nbytes for level in seen.levels) == 4 * 2000  # 4 bytes a kept id in memory


def test_level_contains_is_membership_of_full_hashes(tmp_path: Path) -> None:
    """A level answers as numpy's isin over the full 64-bit hashes, though memory holds their top 32
    bits: hashes sharing the top bits (runs of them in the level, and probes that share them with no
    member), the first and last values, and an empty level."""
    rng = np.random.default_rng(3)
    h = rng.integers(0, 2**64 - 1, size=5000, dtype=np.uint64, endpoint=True)
    h[:4] = [0, 2**64 - 1, 2**32, 2**32 - 1]
    h[4:40] = (h[40:76] & np.uint64(0xFFFFFFFF00000000)) | np.uint64(7)  # same top bits as others
    h[76:80] = h[80] ^ np.arange(1, 5, dtype=np.uint64)  # a run of five with equal top bits
    hashes = np.sort(h)
    level = dedup.Level(hashes, str(tmp_path / "l.npy"))
    assert np.array_equal(level.hashes(), hashes) and level.top.nbytes == 4 * len(h)
    probe = np.sort(np.concatenate([
        h[::3],  # members
        rng.integers(0, 2**64 - 1, size=3000, dtype=np.uint64, endpoint=True),  # not, mostly
        h[1::7] ^ np.uint64(1 << 5),  # the top bits of a member, other low bits: not members
        h[76:81] ^ np.uint64(1 << 20),  # ... against the run
        h[2::7] ^ np.uint64(1 << 63),  # the low bits of a member, other top bits
    ]))  # fmt: skip
    got = level.contains(probe)
    assert np.array_equal(got, np.isin(probe, hashes))
    assert got.sum() > 1500 and (~got).sum() > 3000  # both answers are exercised
    assert not dedup.Level(np.array([], dtype=np.uint64), str(tmp_path / "e.npy")).contains(probe).any()


def test_seen_ids_levels_never_pass_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Levels merge up to MAX_LEVEL hashes and then stay (a merge holds both levels and their union:
    unbounded, the last merge of a 10 M-record day held 160 MiB); the verdict stays first-wins."""
    monkeypatch.setattr(dedup, "MAX_LEVEL", 300)
    rng = random.Random(5)
    chunks = [[f"id-{rng.randrange(3000)}" for _ in range(rng.randrange(40, 120))] for _ in range(40)]
    seen = SeenIds(str(tmp_path))
    got = [seen.first(pl.Series("event_id", c, dtype=pl.String)).to_list() for c in chunks]
    assert got == reference_first(chunks)
    sizes = [len(level) for level in seen.levels]
    assert max(sizes) <= 300 and sum(sizes) == len({v for c in chunks for v in c})
    assert sum(s > 150 for s in sizes) >= 4  # levels did grow to the cap, and then stayed apart


def _write_window(root: Path, n_files: int, per_file: int, dup_every: int) -> list[str]:
    """Capture files of one hour; every ``dup_every``-th record repeats an id of an earlier file."""
    folder = root / "2024/01/01/10"
    folder.mkdir(parents=True)
    ids: list[str] = []
    for f in range(n_files):
        lines = []
        for r in range(per_file):
            n = f * per_file + r
            eid = ids[(n * 7) % len(ids)] if ids and n % dup_every == 0 else f"e-{n}"
            ids.append(eid)
            lines.append(json.dumps({
                "captureData": {
                    "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": f"{n},{n % 5}", "encoding": "CSV"},
                    "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": f"0.{n}", "encoding": "CSV"},
                },
                "eventMetadata": {"eventId": eid, "inferenceTime": f"2024-01-01T10:{f % 60:02d}:00Z"},
                "eventVersion": "0",
            }, separators=(",", ":")))  # fmt: skip
        (folder / f"{f:02d}-00-000-x.jsonl").write_text("\n".join(lines) + "\n")
    return ids


def test_dedup_across_chunks_matches_first_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Duplicates spanning chunks and batches: counts and kept rows as a first-wins set gives, and the
    same bytes whether the hash collides always or never."""
    ids = _write_window(tmp_path / "cap", n_files=9, per_file=23, dup_every=4)
    w = Window(parse_time("2024-01-01T10:00Z"), parse_time("2024-01-01T11:00Z"))
    monkeypatch.setattr(merge, "FILES_PER_BATCH", 2)
    kept = [eid for eid, first in zip(ids, reference_first([ids])[0], strict=True) if first]
    outputs = []
    for collide in (False, True):
        if collide:
            monkeypatch.setattr(dedup.SeenIds, "_hash", lambda self, s: np.zeros(len(s), dtype=np.uint64))
        out = tmp_path / f"o{int(collide)}"
        s = capture_merge(Store(), str(tmp_path / "cap"), str(out), w, workers=3, chunk_records=40)
        assert (s.in_window, s.duplicates, s.rows) == (len(ids), len(ids) - len(kept), len(kept))
        assert len(s.part_names) > 2  # several chunks, so duplicates cross chunk boundaries
        rows = pl.concat([pl.read_ndjson(p) for p in parts(out, "jsonl")])
        assert rows["__mmon_event_id"].to_list() == kept
        outputs.append([p.read_bytes() for p in parts(out, "jsonl")])
    assert outputs[0] == outputs[1]


def test_reads_feed_parses_in_order_whatever_the_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """File reads run ahead on many threads, parses on few: the parts are the same bytes for 1 and 16."""
    _write_window(tmp_path / "cap", n_files=13, per_file=11, dup_every=5)
    w = Window(parse_time("2024-01-01T10:00Z"), parse_time("2024-01-01T11:00Z"))
    monkeypatch.setattr(merge, "FILES_PER_BATCH", 3)
    got = []
    for workers in (1, 16):
        out = tmp_path / f"w{workers}"
        s = capture_merge(Store(), str(tmp_path / "cap"), str(out), w, workers=workers, chunk_records=30)
        got.append(([p.read_bytes() for p in parts(out, "jsonl")], s.to_dict()["capture"]))
    assert got[0] == got[1]
    assert got[0][1]["records"] == 13 * 11


def test_big_files_are_parsed_a_few_mib_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch is cut by bytes as well as by files: 16 files of a busy endpoint (MiBs each) are not
    parsed at once (the 10 M-record day peaked at 1 GiB so). Same bytes out as batches of one file."""
    _write_window(tmp_path / "cap", n_files=12, per_file=40, dup_every=10**9)  # no duplicates
    w = Window(parse_time("2024-01-01T10:00Z"), parse_time("2024-01-01T11:00Z"))
    sizes = [p.stat().st_size for p in sorted((tmp_path / "cap").rglob("*.jsonl"))]
    monkeypatch.setattr(merge, "BATCH_BYTES", 2 * max(sizes) + 1)  # three files cross it
    seen: list[int] = []
    real = merge.parse_capture_batch

    def spy(items, *a, **k):  # type: ignore[no-untyped-def]
        seen.append(sum(len(d) for _, _, d in items))
        return real(items, *a, **k)

    monkeypatch.setattr(merge, "parse_capture_batch", spy)
    got = []
    for per_batch in (16, 1):
        monkeypatch.setattr(merge, "FILES_PER_BATCH", per_batch)
        seen.clear()
        out = tmp_path / f"b{per_batch}"
        s = capture_merge(Store(), str(tmp_path / "cap"), str(out), w, chunk_records=10**6)
        got.append([p.read_bytes() for p in parts(out, "jsonl")])
        assert s.records == 12 * 40
        assert max(seen) <= 3 * max(sizes)
        assert len(seen) == (4 if per_batch == 16 else 12)  # 12 files, three to a batch
    assert got[0] == got[1]


def test_chunk_thread_keeps_problems_in_input_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks are processed in a thread of their own while later batches are parsed: the summary's
    problems (malformed lines found by the parse, unreadable payloads found by the chunk) still come
    in file and line order, and the summary is the same whether that thread lags or not."""
    import time

    _write_window(tmp_path / "cap", n_files=10, per_file=12, dup_every=10**9)
    for k, path in enumerate(sorted((tmp_path / "cap").rglob("*.jsonl"))):
        lines = path.read_text().splitlines()
        if k % 2:
            lines[3] = "{not json"  # a malformed line: found while parsing the batch
        else:
            doc = json.loads(lines[5])
            doc["captureData"]["endpointInput"]["encoding"] = "XML"  # found while processing the chunk
            doc["captureData"]["endpointInput"]["observedContentType"] = "text/xml"
            lines[5] = json.dumps(doc)
        path.write_text("\n".join(lines) + "\n")
    w = Window(parse_time("2024-01-01T10:00Z"), parse_time("2024-01-01T11:00Z"))
    monkeypatch.setattr(merge, "FILES_PER_BATCH", 1)
    real = merge.process_chunk
    summaries = []
    for lag in (0.0, 0.05):
        def slow(*a, lag=lag, **k):  # type: ignore[no-untyped-def]
            time.sleep(lag)  # the reading side runs ahead by several batches
            return real(*a, **k)

        monkeypatch.setattr(merge, "process_chunk", slow)
        s = capture_merge(Store(), str(tmp_path / "cap"), str(tmp_path / f"o{lag}"), w, workers=4, chunk_records=12)
        summaries.append(s.to_dict())
    where = [(p["file"].rsplit("/", 1)[-1], p["line"]) for p in summaries[0]["malformed_examples"]]
    assert where == sorted(where) and len(where) == 10
    assert [line for _, line in where] == [6, 4] * 5  # payload (chunk), malformed (parse), ...
    assert summaries[0]["capture"] == summaries[1]["capture"]
    assert summaries[0]["malformed_examples"] == summaries[1]["malformed_examples"]


def test_bounded_map_keeps_at_most_its_limit_ahead_and_the_order() -> None:
    """Reads run ahead of their consumer by at most ``inflight`` items, which may change as the
    reading goes (the capture merge counts its read-ahead in files of the mean size read so far)."""
    import threading
    import time

    lock = threading.Lock()
    started: list[int] = []
    taken = [0]

    def fn(i: int) -> int:
        with lock:
            started.append(i)
        return i * i

    out, ahead = [], []
    for r in merge._bounded_map(fn, range(40), workers=8, inflight=lambda: 4 if taken[0] < 20 else 2):
        time.sleep(0.002)  # a slow consumer: the pool would run far ahead if nothing held it
        taken[0] += 1
        with lock:
            ahead.append(len(started) - taken[0])
        out.append(r)
    assert out == [i * i for i in range(40)]
    assert 3 <= max(ahead) <= 4 and max(ahead[25:]) <= 2  # never past the limit; the smaller one took over
