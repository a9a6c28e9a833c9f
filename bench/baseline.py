"""Benchmark of ``mmon baseline`` against a bare polars pass, whylogs and Evidently.

    python bench/baseline.py                       # 1M and 10M rows, Parquet and CSV, with peers
    python bench/baseline.py --rows 1000000 --formats parquet --no-peers
    python bench/baseline.py --bare FILE           # the bare polars pass alone (used internally)

A seeded mixed dataset (20 columns: 7 floats, 6 ints, 7 strings of cardinality 5 … 50,000, 2 %
nulls in every column) is written once per row count under --data-dir as Parquet and CSV and reused
while its sidecar JSON matches. Each tool then profiles each file in a subprocess of its own, so
the peak RSS measured is that tool's alone (see bench/_common.py for how it is measured):

* ``mmon baseline FILE -o OUT -q``;
* the bare polars pass (this file's ``--bare`` mode): the same aggregates as plain polars
  expressions, ``collect(engine="streaming")``, then value counts of the string columns with at
  most 120 distinct values (a second scan); exact deciles and ``n_unique`` keep every value in
  memory. What mmon would cost without its per-value work (type classes of CSV text, sketches);
* whylogs (``why.log(df)``) and Evidently (``DataSummaryPreset``), reading the file with pandas,
  in their own venv bench/.venv-peers (made here on first use; they pin older numpy/pandas).

The table is markdown; ratios are to the bare polars pass on the same file. Targets (issue): mmon
no slower than the bare polars pass at 10M rows, and peak RSS under 1 GiB there. Nothing asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as pkg_version
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import (  # noqa: E402
    GiB,
    Measurement,
    fmt_mib,
    fmt_ratio,
    fmt_s,
    free_disk,
    human_bytes,
    last_line,
    machine_info,
    markdown_table,
    measure,
)

REPO = HERE.parent
SEED = 42
# Bump when the generator changes: files written by an older generator are then made anew.
GENERATOR_VERSION = 1
CHUNK_ROWS = 1_000_000  # rows generated per step; the 1M file is the first chunk of the 10M one
NULL_RATE = 0.02
DECILES = [i / 10 for i in range(1, 10)]
CATEGORICAL_MAX = 120  # SageMaker writes categorical buckets up to 120 distinct values
PEER_TOOLS = ("whylogs", "evidently")
# whylogs 1.6 uses np.unicode_ (gone in numpy 2) and predates pandas 3; Evidently 0.7 runs on both.
# pyarrow 26 refuses numpy 1.x at import time.
PEER_REQUIREMENTS = ["whylogs", "evidently", "numpy<2", "pandas<3", "pyarrow<26"]
STRING_CARDINALITIES = (5, 20, 50, 200, 500, 5000, 50000)


# -- the dataset ------------------------------------------------------------------------------------


def _zipf_probs(k: int, s: float):  # type: ignore[no-untyped-def]
    import numpy as np

    w = 1.0 / np.arange(1, k + 1, dtype=np.float64) ** s
    return w / w.sum()


def _vocab(card: int) -> list[str]:
    # Labels of varied length (some past polars' 12-byte inline strings), like real categories.
    words = ["red", "green", "blue", "north-east", "enterprise", "us-west-2", "mobile-app", "x"]
    return [f"{words[i % len(words)]}_{i:0{len(str(card - 1))}d}" for i in range(card)]


def _chunk(rng, n: int):  # type: ignore[no-untyped-def]
    """``n`` rows of the mixed table, drawn from ``rng`` in a fixed order."""
    import numpy as np
    import polars as pl

    cols: dict[str, object] = {}
    # 7 floats
    cols["f_normal"] = rng.normal(0.0, 1.0, n)
    cols["f_lognormal_price"] = np.round(rng.lognormal(3.0, 1.0, n), 2)
    cols["f_uniform"] = rng.random(n)
    cols["f_normal_wide"] = np.round(rng.normal(1000.0, 250.0, n), 3)
    cols["f_exponential"] = rng.exponential(5.0, n)
    cols["f_student_t3"] = rng.standard_t(3, n)
    mix = rng.random(n) < 0.3
    cols["f_bimodal"] = np.round(np.where(mix, rng.normal(-2.0, 0.5, n), rng.normal(3.0, 1.0, n)), 4)
    # 6 ints
    cols["i_binary"] = rng.integers(0, 2, n)
    cols["i_digit"] = rng.integers(0, 10, n)
    cols["i_age"] = rng.integers(18, 91, n)
    cols["i_poisson"] = rng.poisson(3.0, n)
    cols["i_id"] = rng.integers(0, 1_000_000_000, n)
    cols["i_signed"] = rng.integers(-1_000_000, 1_000_001, n)
    # 7 strings: alternately skewed (Zipf) and uniform
    for j, card in enumerate(STRING_CARDINALITIES):
        if j % 2 == 0:
            codes = rng.choice(card, size=n, p=_zipf_probs(card, 0.9))
        else:
            codes = rng.integers(0, card, n)
        cols[f"s_card{card}"] = pl.Series(_vocab(card), dtype=pl.String).gather(pl.Series(codes, dtype=pl.UInt32))
    df = pl.DataFrame({k: v for k, v in cols.items()})
    masks = {name: rng.random(n) < NULL_RATE for name in df.columns}
    return df.with_columns(
        pl.when(pl.lit(pl.Series(f"m_{name}", mask))).then(None).otherwise(pl.col(name)).alias(name)
        for name, mask in masks.items()
    )


def generate(seed: int, rows: int):  # type: ignore[no-untyped-def]
    """``rows`` rows from ``default_rng(seed)`` in CHUNK_ROWS steps (so a smaller file is a prefix)."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    chunks = []
    done = 0
    while done < rows:
        n = min(CHUNK_ROWS, rows - done)
        chunks.append(_chunk(rng, n))
        done += n
    return pl.concat(chunks, rechunk=False)


def write_atomic(df, path: Path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    """Write parquet or CSV beside ``path`` and rename it in: an interrupted run leaves no half file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    if fmt == "parquet":
        df.write_parquet(tmp)
    else:
        df.write_csv(tmp)
    os.replace(tmp, path)


def _sidecar(data_dir: Path, rows: int) -> Path:
    return data_dir / f"mixed_{rows}.json"


def dataset_paths(data_dir: Path, rows: int) -> dict[str, Path]:
    return {fmt: data_dir / f"mixed_{rows}.{fmt}" for fmt in ("parquet", "csv")}


def ensure_dataset(data_dir: Path, rows: int, formats: list[str]) -> dict[str, Path]:
    """Write the seeded dataset of ``rows`` rows in ``formats`` unless a matching copy is there."""
    data_dir.mkdir(parents=True, exist_ok=True)
    paths = dataset_paths(data_dir, rows)
    side = _sidecar(data_dir, rows)
    meta = {"seed": SEED, "rows": rows, "generator": GENERATOR_VERSION, "chunk_rows": CHUNK_ROWS, "files": {}}
    try:
        old = json.loads(side.read_text())
    except (OSError, ValueError):
        old = {}
    same = all(old.get(k) == meta[k] for k in ("seed", "rows", "generator", "chunk_rows"))
    have = {
        fmt: p
        for fmt, p in paths.items()
        if same and p.exists() and old.get("files", {}).get(fmt, {}).get("bytes") == p.stat().st_size
    }
    missing = [f for f in formats if f not in have]
    if not missing:
        return {f: paths[f] for f in formats}
    meta["files"] = {f: old["files"][f] for f in have} if same else {}

    print(f"generating {rows:,} rows (seed {SEED}) as {', '.join(missing)} in {data_dir} …", flush=True)
    t0 = time.perf_counter()
    df = generate(SEED, rows)
    for fmt in missing:
        write_atomic(df, paths[fmt], fmt)
        meta["files"][fmt] = {"name": paths[fmt].name, "bytes": paths[fmt].stat().st_size}
        print(f"  wrote {paths[fmt]} ({human_bytes(paths[fmt].stat().st_size)})", flush=True)
    side.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"  in {time.perf_counter() - t0:.1f} s", flush=True)
    return {f: paths[f] for f in formats}


def split_anchor_table(folder: Path, rows: int, n_files: int, digits: int, log: bool = False) -> Path:
    """The anchors' seeded table (this file's _chunk) of ``rows`` rows as ``n_files`` CSV
    files of consecutive rows, ``part-<i>.csv`` with ``i`` on ``digits`` digits, in ``folder``; made
    once (``_DONE`` is written last, so an interrupted run makes them anew)."""
    import numpy as np

    done = folder / "_DONE"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    if log:
        print(f"generating {rows:,} rows (seed {SEED}) as {n_files} CSV files in {folder} …", flush=True)
    df = _chunk(np.random.default_rng(SEED), rows)
    per = -(-rows // n_files)
    for i in range(n_files):
        df.slice(i * per, per).write_csv(folder / f"part-{i:0{digits}d}.csv")
    done.write_text("")
    if log:
        print(f"  {human_bytes(sum(p.stat().st_size for p in folder.glob('*.csv')))}", flush=True)
    return folder


# -- the bare polars pass ---------------------------------------------------------------------------


# The bare polars passes' aggregates by name (this file's, small_files.py's, baseline_anchor.py's): each
# pass picks its own set, and column i's aggregate is aliased NAME{i}.
BARE_AGGREGATES = {
    "count": lambda c: c.count(),
    "null": lambda c: c.null_count(),
    "distinct": lambda c: c.n_unique(),
    "sum": lambda c: c.sum(),
    "mean": lambda c: c.mean(),
    "std": lambda c: c.std(ddof=0),  # population, as mmon's statistics
    "min": lambda c: c.min(),
    "max": lambda c: c.max(),
    "deciles": lambda c: c.quantile(DECILES, interpolation="nearest"),
}
NUMBER_AGGREGATES = ("sum", "mean", "std", "min", "max", "deciles")


def bare_aggregates(schema, every: tuple[str, ...], numbers: tuple[str, ...]) -> list:  # type: ignore[no-untyped-def]
    """Polars expressions: the ``every`` aggregates of each column of ``schema`` and the ``numbers``
    ones of its numeric columns, named by ``BARE_AGGREGATES``."""
    import polars as pl

    aggs = []
    for i, (name, dtype) in enumerate(schema.items()):
        c = pl.col(name)
        wanted = every + numbers if dtype.is_numeric() else every
        aggs += [BARE_AGGREGATES[a](c).alias(f"{a}{i}") for a in wanted]
    return aggs


def bare_polars(path: str) -> dict[str, object]:
    """The aggregates mmon's statistics hold, computed by polars directly with no type inference
    of its own: per column count, nulls, distinct; for numbers sum, mean, std (population), min,
    max and the 9 deciles; value counts of string columns with at most 120 distinct values.

    Two streaming queries: the aggregates, then value counts of the low-cardinality string columns
    (which only the first query can name).
    """
    import polars as pl

    if path.endswith(".csv"):
        lf = pl.scan_csv(path, infer_schema_length=10000)
    else:
        lf = pl.scan_parquet(path)
    schema = lf.collect_schema()
    aggs = [pl.len().alias("__rows"), *bare_aggregates(schema, ("count", "null", "distinct"), NUMBER_AGGREGATES)]
    t0 = time.perf_counter()
    row = lf.select(aggs).collect(engine="streaming").row(0, named=True)
    t1 = time.perf_counter()
    names = list(schema)
    categorical = [
        n for i, n in enumerate(names) if schema[n] == pl.String and int(row[f"distinct{i}"]) <= CATEGORICAL_MAX + 1
    ]
    counts = pl.collect_all([lf.group_by(n).len() for n in categorical], engine="streaming") if categorical else []
    t2 = time.perf_counter()
    return {
        "rows": int(row["__rows"]),
        "columns": len(names),
        "numeric": sum(1 for d in schema.values() if d.is_numeric()),
        "categorical": {n: c.height for n, c in zip(categorical, counts, strict=True)},
        "aggregate_s": round(t1 - t0, 3),
        "value_counts_s": round(t2 - t1, 3),
    }


# -- peers' venv ------------------------------------------------------------------------------------


@dataclass
class Peer:
    tool: str
    python: Path | None
    version: str = ""
    problem: str = ""  # "did not install: …" when python is None


def _pip_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("ERROR")]
    return (lines[0] if lines else last_line(text))[:200]


def ensure_peers(venv: Path, timeout: float = 1800) -> dict[str, Peer]:
    """Make ``venv`` with whylogs and Evidently (once), check each with a tiny run, and say why not."""
    marker = venv / ".bench-peers.json"
    try:
        cached = json.loads(marker.read_text())
        if cached.get("requirements") == PEER_REQUIREMENTS:
            return {
                t: Peer(t, Path(v["python"]) if v.get("python") else None, v.get("version", ""), v.get("problem", ""))
                for t, v in cached["tools"].items()
            }
    except (OSError, ValueError, KeyError):
        pass

    py = venv / "bin" / "python"
    log = venv / "bench-install.log"
    if not py.exists():
        print(f"creating {venv} for whylogs and Evidently …", flush=True)
        r = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
        if r.returncode != 0:
            reason = f"did not install: python -m venv failed: {last_line(r.stderr)}"
            return {t: Peer(t, None, problem=reason) for t in PEER_TOOLS}
    # Keep the venv out of git without touching the repository's .gitignore.
    (venv / ".gitignore").write_text("*\n")
    pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    with log.open("a") as out:
        subprocess.run([*pip, "--upgrade", "pip"], stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
        print(f"installing {' '.join(PEER_REQUIREMENTS)} into {venv} (log: {log}) …", flush=True)
        r = subprocess.run([*pip, *PEER_REQUIREMENTS], capture_output=True, text=True, timeout=timeout)
        out.write(r.stdout + r.stderr)
    joint_error = _pip_error(r.stdout + r.stderr) if r.returncode != 0 else ""
    install_error: dict[str, str] = {}
    if joint_error:
        # Together they did not resolve: try each alone, so one tool's failure does not hide the other.
        base = [q for q in PEER_REQUIREMENTS if q not in PEER_TOOLS]
        for tool in PEER_TOOLS:
            r = subprocess.run([*pip, tool, *base], capture_output=True, text=True, timeout=timeout)
            with log.open("a") as out:
                out.write(r.stdout + r.stderr)
            if r.returncode != 0:
                install_error[tool] = _pip_error(r.stdout + r.stderr)

    peers: dict[str, Peer] = {}
    for tool in PEER_TOOLS:
        if tool in install_error:
            peers[tool] = Peer(tool, None, problem=f"did not install: {install_error[tool]}")
            continue
        m = measure([str(py), str(HERE / "peers_baseline.py"), tool, "--smoke"], timeout=600)
        if m.ok:
            info = json.loads(m.stdout.strip().splitlines()[-1])
            peers[tool] = Peer(tool, py, version=str(info.get("version", "")))
        else:
            peers[tool] = Peer(tool, None, problem=f"did not install: {m.failure()}")
    marker.write_text(
        json.dumps(
            {
                "requirements": PEER_REQUIREMENTS,
                "tools": {t: {"python": str(p.python or ""), "version": p.version, "problem": p.problem} for t, p in peers.items()},
            },
            indent=2,
        )
        + "\n"
    )
    return peers


# -- running ----------------------------------------------------------------------------------------


@dataclass
class Row:
    rows: int
    fmt: str
    tool: str
    m: Measurement | None
    note: str = ""


def mmon_bin() -> Path:
    venv_bin = Path(sys.executable).parent / "mmon"
    if venv_bin.exists():
        return venv_bin
    found = shutil.which("mmon")
    return Path(found) if found else REPO / ".venv" / "bin" / "mmon"


def run_mmon(path: Path, out: Path) -> Row:
    shutil.rmtree(out, ignore_errors=True)
    m = measure([str(mmon_bin()), "baseline", str(path), "-o", str(out), "-q"])
    note = ""
    if m.ok:
        try:
            stats = json.loads((out / "statistics.json").read_text())
            note = f"item_count {stats['dataset']['item_count']:,}"
        except (OSError, ValueError, KeyError) as exc:
            note = f"no statistics.json: {exc}"
    return Row(0, "", "mmon baseline", m, note)


def run_bare(path: Path) -> Row:
    m = measure([sys.executable, str(Path(__file__).resolve()), "--bare", str(path)])
    note = ""
    if m.ok:
        info = json.loads(m.stdout.strip().splitlines()[-1])
        note = f"aggregates {info['aggregate_s']} s + value counts {info['value_counts_s']} s"
    return Row(0, "", "bare polars", m, note)


def run_peer(peer: Peer, path: Path, timeout: float, rss_limit: int) -> Row:
    if peer.python is None:
        return Row(0, "", peer.tool, None, peer.problem)
    m = measure(
        [str(peer.python), str(HERE / "peers_baseline.py"), peer.tool, str(path)], timeout=timeout, rss_limit=rss_limit
    )
    note = ""
    if m.ok:
        info = json.loads(m.stdout.strip().splitlines()[-1])
        note = f"pandas read {info['read_s']} s + profile {info['profile_s']} s"
    return Row(0, "", peer.tool, m, note)


def versions(peers: dict[str, Peer]) -> dict[str, str]:
    def v(name: str) -> str:
        try:
            return pkg_version(name)
        except PackageNotFoundError:
            return "not installed"

    out = {"mmon": v("mmon"), "polars": v("polars"), "numpy": v("numpy")}
    for t in PEER_TOOLS:
        p = peers.get(t)
        out[t] = p.version if p and p.python else (p.problem if p else "not run (--no-peers)")
    return out


def render(results: list[Row]) -> str:
    bare = {(r.rows, r.fmt): r.m for r in results if r.tool == "bare polars" and r.m is not None and r.m.ok}
    table = []
    for r in results:
        ref = bare.get((r.rows, r.fmt))
        if r.m is None:
            table.append([f"{r.rows:,}", r.fmt, r.tool, "", "", "", "", "", "", r.note])
            continue
        busy = f"{r.m.load_max:.1f}"
        if not r.m.ok:
            why = r.m.failure() if r.m.timed_out else f"failed: {r.m.failure()}"
            table.append([f"{r.rows:,}", r.fmt, r.tool, fmt_s(r.m.wall_s), fmt_s(r.m.cpu_s), fmt_mib(r.m.peak_rss), "", "", busy, why])
            continue
        tr = r.m.wall_s / ref.wall_s if ref else None
        mr = r.m.peak_rss / ref.peak_rss if ref else None
        table.append(
            [f"{r.rows:,}", r.fmt, r.tool, fmt_s(r.m.wall_s), fmt_s(r.m.cpu_s), fmt_mib(r.m.peak_rss), fmt_ratio(tr), fmt_ratio(mr), busy, r.note]
        )
    return markdown_table(
        ["rows", "format", "tool", "wall s", "CPU s", "peak RSS MiB", "wall / polars", "RSS / polars", "max load", "notes"],
        table,
        align="rllrrrrrrl",
    )


def targets(results: list[Row]) -> list[str]:
    """The issue's targets at the largest row count measured: mmon ≤ bare polars, RSS < 1 GiB."""
    lines = []
    big = max((r.rows for r in results), default=0)
    for r in results:
        if r.rows != big or r.tool != "mmon baseline" or r.m is None or not r.m.ok:
            continue
        ref = next((x.m for x in results if x.rows == big and x.fmt == r.fmt and x.tool == "bare polars"), None)
        if ref is not None and ref.ok:
            d = r.m.wall_s / ref.wall_s
            speed = f"{'met' if d <= 1 else 'MISSED'}: {d:.2f}× the bare polars pass ({r.m.wall_s:.1f} s vs {ref.wall_s:.1f} s)"
        else:
            speed = "no bare polars run to compare"
        mem = f"{'met' if r.m.peak_rss < GiB else 'MISSED'}: peak RSS {r.m.peak_rss / GiB:.2f} GiB"
        lines.append(f"- {big:,} rows {r.fmt}: speed {speed}; memory {mem}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="1000000,10000000", help="comma-separated row counts (default: 1000000,10000000)")
    ap.add_argument("--formats", default="parquet,csv", help="comma-separated: parquet,csv (default: both)")
    ap.add_argument("--data-dir", type=Path, default=HERE / "data", help="where the datasets go (default: bench/data)")
    ap.add_argument("--peers", action=argparse.BooleanOptionalAction, default=True, help="also run whylogs and Evidently")
    ap.add_argument("--peers-venv", type=Path, default=HERE / ".venv-peers", help="venv for the peers (made on first use)")
    ap.add_argument("--peer-timeout", type=float, default=900, help="seconds per peer run (default: 900)")
    ap.add_argument(
        "--peer-rss-limit", type=float, default=16, help="GiB: a peer run is stopped past this much RSS (default: 16)"
    )
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool and file; the table keeps the fastest (default: 1)")
    ap.add_argument(
        "--tools", default="polars,mmon,whylogs,evidently", help="comma-separated subset to run (default: all four)"
    )
    ap.add_argument("--bare", metavar="FILE", help="run only the bare polars pass over FILE and print JSON")
    args = ap.parse_args(argv)

    if args.bare:
        print(json.dumps(bare_polars(args.bare)))
        return 0

    rows_list = [int(x.replace("_", "")) for x in args.rows.split(",") if x.strip()]
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    bad = [f for f in formats if f not in ("parquet", "csv")]
    if bad:
        ap.error(f"unknown format(s): {', '.join(bad)}")
    data_dir: Path = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    print(f"free disk at {data_dir}: {human_bytes(free_disk(data_dir))}", flush=True)

    tools = {t.strip() for t in args.tools.split(",") if t.strip()}
    unknown = tools - {"polars", "mmon", *PEER_TOOLS}
    if unknown:
        ap.error(f"unknown tool(s): {', '.join(sorted(unknown))}")
    peers = ensure_peers(args.peers_venv.resolve()) if args.peers and tools & set(PEER_TOOLS) else {}
    results: list[Row] = []
    for rows in rows_list:
        files = ensure_dataset(data_dir, rows, formats)
        for fmt in formats:
            path = files[fmt]
            runs = []
            if "polars" in tools:
                runs.append(("bare polars", lambda p=path: run_bare(p)))
            if "mmon" in tools:
                runs.append(("mmon baseline", lambda p=path, f=fmt, n=rows: run_mmon(p, data_dir / "out" / f"mmon_{n}_{f}")))
            for tool in PEER_TOOLS:
                if tool in peers and tool in tools:
                    runs.append((tool, lambda p=path, t=tool: run_peer(peers[t], p, args.peer_timeout, int(args.peer_rss_limit * GiB))))
            for tool, fn in runs:
                best: Row | None = None
                for _ in range(max(1, args.repeat)):
                    print(f"{rows:>12,} {fmt:<8} {tool:<14}", end=" ", flush=True)
                    row = fn()
                    row.rows, row.fmt = rows, fmt
                    if row.m is None:
                        print(row.note, flush=True)
                        best = row
                        break
                    print(
                        f"{row.m.wall_s:8.2f} s (CPU {row.m.cpu_s:7.1f} s) {row.m.peak_mib:8,.0f} MiB  load {row.m.load_max:4.1f}  "
                        f"{row.note if row.m.ok else row.m.failure()}",
                        flush=True,
                    )
                    if not row.m.ok:
                        best = row
                        break
                    if best is None or (best.m is not None and row.m.wall_s < best.m.wall_s):
                        best = row
                assert best is not None
                results.append(best)

    print()
    info = machine_info()
    print(f"Machine: {info['cpus']} CPUs ({info['cpu']}), {info['ram']} RAM, {info['os']}, Python {info['python']}")
    print("Versions: " + ", ".join(f"{k} {v}" for k, v in versions(peers).items()))
    sizes = []
    for rows in rows_list:
        for fmt, p in dataset_paths(data_dir, rows).items():
            if fmt in formats and p.exists():
                sizes.append(f"{p.name} {human_bytes(p.stat().st_size)}")
    print(
        f"Wall and CPU seconds, peak RSS of the process tree (bench/_common.py); 'max load' is the highest "
        f"1-minute load average during the run: above ~{(os.cpu_count() or 2) + 1} something else was using the {os.cpu_count()} CPUs."
    )
    print("Data: 20 columns (7 float, 6 int, 7 string of cardinality 5…50,000), 2 % nulls, seed 42: " + ", ".join(sizes))
    print()
    print(render(results))
    lines = targets(results)
    if lines:
        print()
        print("Targets (mmon vs bare polars, peak RSS < 1 GiB):")
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
