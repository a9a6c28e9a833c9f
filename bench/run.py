"""Benchmark of ``mmon run`` (data quality) against a bare polars + scipy pass and Evidently.

    python bench/run.py                                   # 10M baseline; 1M and 10M windows; with Evidently
    python bench/run.py --baseline-rows 1000000 --current-rows 1000000 --no-peers   # a quick look
    python bench/run.py --bare-ks BASE CURRENT            # the bare polars + scipy pass alone (internal)

Data (bench/baseline.py's generator, 20 mixed columns, 2 % nulls):

* the baseline: ``mixed_{N}`` from ``baseline.ensure_dataset`` (seed 42), shared with baseline.py;
* current windows: independent samples of the same distribution, the same generator with another
  seed (43, 44, … one per --current-rows size), written as ``window_{rows}_seed{S}``;
* one drifted window of the first --current-rows size (seed 50) with drift injected in 3 known
  columns: ``f_normal`` and ``i_age`` shifted by +0.5 of their standard deviation (rounded to a
  whole number for the integer column), ``s_card50`` (Zipf-skewed) with its frequencies reversed
  (the most frequent label becomes the least frequent);
* for the false-alarm figure: a 1M-row baseline of its own (seed 60) and the 1M same-distribution
  window (seed 43): two independent 1M-row samples of the same distribution.

baseline.py's ``ensure_dataset`` has its seed fixed (42), so the windows are made here by calling
its per-chunk generator ``_chunk`` with another ``numpy.random.default_rng(seed)``, in the same 1M-row
chunks: a window of seed S is exactly what ``ensure_dataset`` would write with SEED = S.

What runs, each in its own subprocess (bench/_common.py's ``measure``: wall time, CPU time, peak
RSS of the process tree, highest load average during the run):

* ``mmon baseline BASE -o OUT -q`` once, then ``mmon run WINDOW --baseline-statistics …
  --baseline-constraints … -o REPORT -q --no-fail-on-violations`` per window; the violations come
  from ``REPORT/constraint_violations.json``;
* the bare pass (``--bare-ks``): both files read whole with polars; per numeric column
  ``scipy.stats.ks_2samp(base, cur, method="asymp")`` on all non-null values, per string column a
  chi-square test of the 2 × k table of value counts (``scipy.stats.chi2_contingency``); a column
  with p < 0.05 is an alarm (the naive alarm count: ~1 in 20 columns by chance alone);
* Evidently's ``DataDriftPreset`` (reference = baseline file, current = window), bench/peers_run.py
  in bench/.venv-peers, with a timeout and an RSS limit.

Nothing asserts; the tables are markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as pkg_version
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import (  # noqa: E402
    GiB,
    Measurement,
    fmt_mib,
    fmt_s,
    free_disk,
    human_bytes,
    machine_info,
    markdown_table,
    measure,
)
from baseline import (  # noqa: E402
    CHUNK_ROWS,
    GENERATOR_VERSION,
    SEED,
    STRING_CARDINALITIES,
    _vocab,
    ensure_dataset,
    ensure_peers,
    generate,
    mmon_bin,
    write_atomic,
)

WINDOW_SEED = 43  # + index in --current-rows
DRIFT_SEED = 50
FA_BASELINE_SEED = 60  # false-alarm pairs: baseline seed 60 + 2k, window 43 (k = 0) or 61 + 2k
FA_ROWS = 1_000_000
P_ALARM = 0.05
DRIFT_VERSION = 1  # bump when the injected drift changes
DRIFT_SD = 0.5
DRIFT_SHIFT = ("f_normal", "i_age")  # shifted by DRIFT_SD standard deviations
DRIFT_REVERSE = "s_card50"  # frequencies reversed (a Zipf-skewed column)
DRIFT_COLUMNS = (*DRIFT_SHIFT, DRIFT_REVERSE)
CHECK_SHORT = {
    "baseline_drift_check": "drift",
    "data_type_check": "type",
    "completeness_check": "completeness",
    "categorical_values_check": "cat values",
    "missing_column_check": "missing",
    "extra_column_check": "extra",
    "non_negative_check": "non-negative",
}


# -- data -------------------------------------------------------------------------------------------


def inject_drift(df):  # type: ignore[no-untyped-def]
    """Shift the DRIFT_SHIFT columns by DRIFT_SD of their own standard deviation; reverse the
    frequencies of DRIFT_REVERSE (label i of the vocabulary becomes label k-1-i). Nulls stay."""
    import polars as pl

    exprs = []
    applied: dict[str, str] = {}
    for name in DRIFT_SHIFT:
        sd = float(df[name].std())
        if df.schema[name].is_integer():
            shift = round(DRIFT_SD * sd)
            exprs.append((pl.col(name) + shift).cast(df.schema[name]))
            applied[name] = f"+{shift} (0.5 sd, sd {sd:.2f})"
        else:
            shift = DRIFT_SD * sd
            exprs.append(pl.col(name) + shift)
            applied[name] = f"+{shift:.4g} (0.5 sd)"
    card = int(DRIFT_REVERSE.removeprefix("s_card"))
    assert card in STRING_CARDINALITIES
    vocab = _vocab(card)
    exprs.append(pl.col(DRIFT_REVERSE).replace_strict(vocab, vocab[::-1], default=None))
    applied[DRIFT_REVERSE] = "frequencies reversed"
    return df.with_columns(exprs), applied


def window_paths(data_dir: Path, rows: int, seed: int, drift: bool) -> tuple[dict[str, Path], Path]:
    stem = f"window_{rows}_seed{seed}{'_drift' if drift else ''}"
    return {fmt: data_dir / f"{stem}.{fmt}" for fmt in ("parquet", "csv")}, data_dir / f"{stem}.json"


def ensure_window(data_dir: Path, rows: int, seed: int, fmt: str, drift: bool = False) -> tuple[Path, dict]:
    """A sample of baseline.py's mixed table drawn with ``seed`` (optionally drifted), reused while its
    sidecar JSON matches (seed, rows, generator and drift versions, file size)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    paths, side = window_paths(data_dir, rows, seed, drift)
    path = paths[fmt]
    meta: dict = {
        "seed": seed,
        "rows": rows,
        "generator": GENERATOR_VERSION,
        "chunk_rows": CHUNK_ROWS,
        "drift": DRIFT_VERSION if drift else None,
        "files": {},
    }
    try:
        old = json.loads(side.read_text())
    except (OSError, ValueError):
        old = {}
    same = all(old.get(k) == meta[k] for k in ("seed", "rows", "generator", "chunk_rows", "drift"))
    if same and path.exists() and old.get("files", {}).get(fmt, {}).get("bytes") == path.stat().st_size:
        return path, old
    if same:
        meta["files"] = {f: v for f, v in old.get("files", {}).items() if paths[f].exists()}
        meta["applied"] = old.get("applied")

    what = "drifted " if drift else ""
    print(f"generating {rows:,} {what}rows (seed {seed}) as {fmt} in {data_dir} …", flush=True)
    t0 = time.perf_counter()
    df = generate(seed, rows)
    if drift:
        df, meta["applied"] = inject_drift(df)
    write_atomic(df, path, fmt)
    del df
    meta["files"][fmt] = {"name": path.name, "bytes": path.stat().st_size}
    side.write_text(json.dumps(meta, indent=2) + "\n")
    print(
        f"  wrote {path} ({human_bytes(path.stat().st_size)}) in {time.perf_counter() - t0:.1f} s", flush=True
    )
    return path, meta


# -- the bare polars + scipy pass -------------------------------------------------------------------


def _read(path: str):  # type: ignore[no-untyped-def]
    import polars as pl

    return pl.read_csv(path, infer_schema_length=10000) if path.endswith(".csv") else pl.read_parquet(path)


def bare_ks(base_path: str, cur_path: str) -> dict[str, object]:
    """Both files read whole with polars; K-S per numeric column, chi-square per string column."""
    import numpy as np
    import polars as pl
    from scipy import stats

    t0 = time.perf_counter()
    base = _read(base_path)
    cur = _read(cur_path)
    t1 = time.perf_counter()
    tests: dict[str, dict[str, object]] = {}
    for name, dtype in base.schema.items():
        if name not in cur.columns:
            continue
        if dtype.is_numeric():
            a = base[name].drop_nulls().to_numpy()
            b = cur[name].drop_nulls().to_numpy()
            r = stats.ks_2samp(a, b, method="asymp")
            tests[name] = {"test": "ks", "stat": float(r.statistic), "p": float(r.pvalue)}
        elif dtype == pl.String:
            va = base[name].drop_nulls().value_counts(name="n_base")
            vb = cur[name].drop_nulls().value_counts(name="n_cur")
            joined = va.join(vb, on=name, how="full", coalesce=True).fill_null(0)
            table = np.vstack([joined["n_base"].to_numpy(), joined["n_cur"].to_numpy()])
            r = stats.chi2_contingency(table)
            tests[name] = {
                "test": "chi2",
                "stat": float(r.statistic),
                "p": float(r.pvalue),
                "k": int(table.shape[1]),
            }
    t2 = time.perf_counter()
    alarms = sorted(n for n, t in tests.items() if float(t["p"]) < P_ALARM)  # type: ignore[arg-type]
    return {
        "base_rows": base.height,
        "cur_rows": cur.height,
        "tested": len(tests),
        "alarms": alarms,
        "tests": tests,
        "read_s": round(t1 - t0, 3),
        "test_s": round(t2 - t1, 3),
    }


# -- running ----------------------------------------------------------------------------------------


@dataclass
class Window:
    key: str  # e.g. "1M same-dist"
    rows: int
    seed: int
    drift: bool
    path: Path


@dataclass
class Result:
    tool: str
    window: str
    m: Measurement | None
    found: int | None = None  # drifted / violating columns
    columns: list[str] = field(default_factory=list)
    note: str = ""


def short_rows(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1000 == 0:
        return f"{n // 1000}k"
    return f"{n:,}"


def run_mmon_baseline(path: Path, out: Path, fmt: str) -> Measurement:
    shutil.rmtree(out, ignore_errors=True)
    return measure([str(mmon_bin()), "baseline", str(path), "-o", str(out), "-q", "--format", fmt])


def read_violations(report: Path) -> list[dict]:
    doc = json.loads((report / "constraint_violations.json").read_text())
    return list(doc.get("violations", []))


def describe_violations(violations: list[dict]) -> tuple[int, list[str], dict[str, list[str]]]:
    """(number of distinct features, ['check: feature, feature', …], {check: [features]})."""
    by_check: dict[str, set[str]] = {}
    for v in violations:
        check = str(v.get("constraint_check_type", "?"))
        by_check.setdefault(check, set()).add(str(v.get("feature_name", "?")))
    features = set().union(*by_check.values()) if by_check else set()
    groups = {c: sorted(f) for c, f in sorted(by_check.items())}
    text = [f"{CHECK_SHORT.get(c, c)}: {', '.join(f)}" for c, f in groups.items()]
    return len(features), text, groups


def run_mmon(window: Window, baseline_out: Path, report: Path, fmt: str) -> Result:
    shutil.rmtree(report, ignore_errors=True)
    m = measure(
        [
            str(mmon_bin()),
            "run",
            str(window.path),
            "--baseline-statistics",
            str(baseline_out / "statistics.json"),
            "--baseline-constraints",
            str(baseline_out / "constraints.json"),
            "-o",
            str(report),
            "-q",
            "--no-fail-on-violations",
            "--format",
            fmt,
        ]
    )
    res = Result("mmon run", window.key, m)
    if m.ok:
        try:
            violations = read_violations(report)
        except (OSError, ValueError) as exc:
            res.note = f"no constraint_violations.json: {exc}"
            return res
        res.found, res.columns, groups = describe_violations(violations)
        res.m.extra["by_check"] = groups  # type: ignore[union-attr]
        res.note = f"{len(violations)} violation(s): " + ", ".join(f"{len(f)} {c}" for c, f in groups.items())
    return res


def run_bare(base: Path, window: Window) -> Result:
    m = measure([sys.executable, str(Path(__file__).resolve()), "--bare-ks", str(base), str(window.path)])
    res = Result("polars + scipy K-S/χ²", window.key, m)
    if m.ok:
        info = json.loads(m.stdout.strip().splitlines()[-1])
        res.found, res.columns = len(info["alarms"]), list(info["alarms"])
        res.note = f"read {info['read_s']} s + tests {info['test_s']} s; {info['tested']} columns tested"
        res.m.extra["info"] = info  # type: ignore[union-attr]
    return res


def run_evidently(
    python: Path | None, problem: str, base: Path, window: Window, timeout: float, rss_limit: int
) -> Result:
    if python is None:
        return Result("Evidently DataDriftPreset", window.key, None, note=problem or "not installed")
    m = measure(
        [str(python), str(HERE / "peers_run.py"), str(base), str(window.path)],
        timeout=timeout,
        rss_limit=rss_limit,
    )
    res = Result("Evidently DataDriftPreset", window.key, m)
    if m.ok:
        info = json.loads(m.stdout.strip().splitlines()[-1])
        res.found, res.columns = int(info["drifted_count"]), list(info["drifted"])
        methods = sorted({str(c.get("method")) for c in info.get("columns", {}).values()})
        res.note = f"read {info['read_s']} s + drift {info['drift_s']} s; {', '.join(methods)}"
        res.m.extra["info"] = info  # type: ignore[union-attr]
    return res


def print_progress(r: Result) -> None:
    label = f"{r.tool:<26} {r.window:<24}"
    if r.m is None:
        print(f"{label} {r.note}", flush=True)
        return
    what = (
        r.m.failure()
        if not r.m.ok
        else f"found {r.found if r.found is not None else '-'}: {', '.join(r.columns) or '-'}"
    )
    print(
        f"{label} {r.m.wall_s:8.2f} s (CPU {r.m.cpu_s:7.1f} s) {r.m.peak_mib:8,.0f} MiB  load {r.m.load_max:4.1f}  {what}",
        flush=True,
    )


def render(results: list[Result]) -> str:
    rows = []
    for r in results:
        if r.m is None:
            rows.append([r.tool, r.window, "", "", "", "", "not run", "", r.note])
            continue
        measured = [r.tool, r.window, fmt_s(r.m.wall_s), fmt_s(r.m.cpu_s), fmt_mib(r.m.peak_rss), f"{r.m.load_max:.1f}"]
        if not r.m.ok:
            why = (
                r.m.failure()
                if r.m.timed_out or r.m.extra.get("rss_limit_hit")
                else f"failed: {r.m.failure()}"
            )
            rows.append(measured + ["—", "", why])
            continue
        rows.append(
            measured
            + ["" if r.found is None else str(r.found), ", ".join(r.columns) if r.found is not None else "", r.note]
        )
    return markdown_table(
        ["tool", "window", "wall s", "CPU s", "peak RSS MiB", "max load", "flagged cols", "which", "notes"],
        rows,
        align="llrrrrrll",
    )


def versions(evidently: str) -> dict[str, str]:
    def v(name: str) -> str:
        try:
            return pkg_version(name)
        except PackageNotFoundError:
            return "not installed"

    return {
        "mmon": v("mmon"),
        "polars": v("polars"),
        "numpy": v("numpy"),
        "scipy": v("scipy"),
        "evidently": evidently,
    }


def loadavg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--baseline-rows", type=int, default=10_000_000, help="rows of the baseline (default: 10000000)"
    )
    ap.add_argument(
        "--current-rows",
        default="1000000,10000000",
        help="comma-separated window sizes (default: 1000000,10000000)",
    )
    ap.add_argument(
        "--format", default="parquet", choices=("parquet", "csv"), help="file format (default: parquet)"
    )
    ap.add_argument(
        "--data-dir", type=Path, default=HERE / "data", help="where the datasets go (default: bench/data)"
    )
    ap.add_argument("--peers", action=argparse.BooleanOptionalAction, default=True, help="also run Evidently")
    ap.add_argument(
        "--peers-venv", type=Path, default=HERE / ".venv-peers", help="venv for Evidently (made on first use)"
    )
    ap.add_argument(
        "--peer-timeout", type=float, default=1200, help="seconds per Evidently run (default: 1200)"
    )
    ap.add_argument(
        "--peer-rss-limit",
        type=float,
        default=12,
        help="GiB: an Evidently run is stopped past this (default: 12)",
    )
    ap.add_argument(
        "--tools", default="mmon,polars,evidently", help="comma-separated subset of mmon,polars,evidently"
    )
    ap.add_argument(
        "--false-alarm-pairs",
        type=int,
        default=1,
        help="independent 1M/1M pairs for the false-alarm figure (default: 1)",
    )
    ap.add_argument(
        "--bare-ks",
        nargs=2,
        metavar=("BASE", "CURRENT"),
        help="run only the bare polars + scipy pass, print JSON",
    )
    args = ap.parse_args(argv)

    if args.bare_ks:
        print(json.dumps(bare_ks(*args.bare_ks)))
        return 0

    tools = {t.strip() for t in args.tools.split(",") if t.strip()}
    unknown = tools - {"mmon", "polars", "evidently"}
    if unknown:
        ap.error(f"unknown tool(s): {', '.join(sorted(unknown))}")
    current_rows = [int(x.replace("_", "")) for x in args.current_rows.split(",") if x.strip()]
    fmt: str = args.format
    data_dir: Path = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    out_dir = data_dir / "out" / "run_py"
    started = time.perf_counter()
    print(
        f"load average at start (1/5/15 min): {loadavg()}; free disk at {data_dir}: {human_bytes(free_disk(data_dir))}",
        flush=True,
    )

    # Evidently first: installing it (once) should not happen between two measured runs.
    ev_python: Path | None = None
    ev_problem = "not run (--no-peers)"
    ev_version = "not run (--no-peers)"
    if args.peers and "evidently" in tools:
        peer = ensure_peers(args.peers_venv.resolve())["evidently"]
        ev_python, ev_problem, ev_version = (
            peer.python,
            peer.problem,
            (peer.version if peer.python else peer.problem),
        )
        if ev_python is not None:
            smoke = measure([str(ev_python), str(HERE / "peers_run.py"), "--smoke"], timeout=600)
            if not smoke.ok:
                ev_python, ev_problem = None, f"DataDriftPreset smoke run failed: {smoke.failure()}"
                ev_version = ev_problem

    # -- data
    base_path = ensure_dataset(data_dir, args.baseline_rows, [fmt])[fmt]
    base_label = f"{short_rows(args.baseline_rows)} baseline (seed {SEED})"
    windows: list[Window] = []
    for i, rows in enumerate(current_rows):
        p, _ = ensure_window(data_dir, rows, WINDOW_SEED + i, fmt)
        windows.append(
            Window(f"{short_rows(rows)} same-dist (seed {WINDOW_SEED + i})", rows, WINDOW_SEED + i, False, p)
        )
    drift_rows = current_rows[0]
    p, meta = ensure_window(data_dir, drift_rows, DRIFT_SEED, fmt, drift=True)
    drift_window = Window(
        f"{short_rows(drift_rows)} drifted (seed {DRIFT_SEED})", drift_rows, DRIFT_SEED, True, p
    )
    windows.append(drift_window)
    applied = meta.get("applied") or {}

    # False-alarm pairs: (baseline seed, window). Pair 0 reuses the 1M same-distribution window.
    fa_pairs: list[tuple[int, Window]] = []
    if "mmon" in tools or "polars" in tools:
        for k in range(max(args.false_alarm_pairs, 0)):
            same_1m = next((w for w in windows if w.rows == FA_ROWS and not w.drift), None)
            if k == 0 and same_1m is not None:
                w = same_1m
            else:
                seed = FA_BASELINE_SEED + 1 + 2 * k
                wp, _ = ensure_window(data_dir, FA_ROWS, seed, fmt)
                w = Window(f"1M same-dist (seed {seed})", FA_ROWS, seed, False, wp)
            fa_pairs.append((FA_BASELINE_SEED + 2 * k, w))

    # -- runs
    print(flush=True)
    results: list[Result] = []
    base_out = out_dir / f"baseline_{args.baseline_rows}_{fmt}"
    if "mmon" in tools:
        m = run_mmon_baseline(base_path, base_out, fmt)
        r = Result("mmon baseline", base_label, m, note="statistics.json + constraints.json")
        if not m.ok:
            r.note = ""
        results.append(r)
        print_progress(r)
        mmon_ok = m.ok
    for w in windows:
        if "mmon" in tools:
            if mmon_ok:
                r = run_mmon(
                    w,
                    base_out,
                    out_dir / f"report_{w.rows}_seed{w.seed}{'_drift' if w.drift else ''}_{fmt}",
                    fmt,
                )
            else:
                r = Result("mmon run", w.key, None, note="no baseline (mmon baseline failed)")
            results.append(r)
            print_progress(r)
        if "polars" in tools:
            r = run_bare(base_path, w)
            results.append(r)
            print_progress(r)
        if args.peers and "evidently" in tools:
            r = run_evidently(
                ev_python, ev_problem, base_path, w, args.peer_timeout, int(args.peer_rss_limit * GiB)
            )
            results.append(r)
            print_progress(r)

    # -- false alarms: two independent 1M-row samples of the same distribution
    fa_results: list[tuple[int, Window, Result | None, Result | None, Measurement | None]] = []
    for base_seed, w in fa_pairs:
        fa_base, _ = ensure_window(data_dir, FA_ROWS, base_seed, fmt)
        mm: Result | None = None
        bm: Measurement | None = None
        if "mmon" in tools:
            fa_out = out_dir / f"fa_baseline_{FA_ROWS}_seed{base_seed}_{fmt}"
            bm = run_mmon_baseline(fa_base, fa_out, fmt)
            bl = Result("mmon baseline", f"1M baseline (seed {base_seed})", bm, note="false-alarm baseline")
            print_progress(bl)
            if bm.ok:
                mm = run_mmon(w, fa_out, out_dir / f"fa_report_seed{base_seed}_vs_seed{w.seed}_{fmt}", fmt)
                mm.window = f"{w.key} vs 1M baseline (seed {base_seed})"
                print_progress(mm)
        pr: Result | None = None
        if "polars" in tools:
            pr = run_bare(fa_base, w)
            pr.window = f"{w.key} vs 1M baseline (seed {base_seed})"
            print_progress(pr)
        fa_results.append((base_seed, w, mm, pr, bm))

    # -- report
    print()
    info = machine_info()
    print(
        f"Machine: {info['cpus']} CPUs ({info['cpu']}), {info['ram']} RAM, {info['os']}, Python {info['python']}"
    )
    print("Versions: " + ", ".join(f"{k} {v}" for k, v in versions(ev_version).items()))
    print(
        f"Load average at the end (1/5/15 min): {loadavg()}; whole benchmark {time.perf_counter() - started:.0f} s."
    )
    print(
        f"'max load' is the highest 1-minute load average seen during that run: above ~{(os.cpu_count() or 2)} "
        f"something else was competing for the {os.cpu_count()} CPUs, and wall times are inflated (CPU s much less so)."
    )
    sizes = [f"{base_path.name} {human_bytes(base_path.stat().st_size)}"]
    sizes += [f"{w.path.name} {human_bytes(w.path.stat().st_size)}" for w in windows]
    print(f"Data ({fmt}; 20 columns: 7 float, 6 int, 7 string; 2 % nulls): " + ", ".join(sizes))
    print(
        f"Baseline: {base_label}. Windows: independent samples of the same generator with other seeds; "
        f"drifted window: " + "; ".join(f"{c} {d}" for c, d in applied.items()) + "."
    )
    print(
        "flagged cols: mmon = features with at least one violation in constraint_violations.json (default "
        "constraints, --no-fail-on-violations; grouped by check type); polars + scipy = columns "
        f"with p < {P_ALARM} (K-S asymptotic for numbers, chi-square on value counts for strings); Evidently = "
        "columns its DataDriftPreset marks drifted (default tests and thresholds)."
    )
    print()
    print(render(results))
    print()
    for i, (base_seed, w, mm, pr, bm) in enumerate(fa_results):
        pair = f"1M baseline seed {base_seed} vs 1M window seed {w.seed}"
        if mm is not None and mm.m is not None and mm.m.ok:
            groups = mm.m.extra.get("by_check", {})
            detail = "; ".join(f"{c} on {len(f)}: {', '.join(f)}" for c, f in groups.items())  # type: ignore[union-attr]
            drift_n = len(groups.get("baseline_drift_check", []))  # type: ignore[union-attr]
            mm_txt = (
                f"{mm.found}"
                + (f" ({detail})" if detail else "")
                + f" — of which baseline_drift_check: {drift_n}"
            )
        elif "mmon" in tools:
            mm_txt = (
                f"not measured: {(mm.m.failure() if mm and mm.m else (bm.failure() if bm else 'no run'))}"
            )
        else:
            mm_txt = "not run"
        head = "false alarms (mmon default, two independent 1M samples)" if i == 0 else f"  pair {i + 1}"
        line = f"{head}: {mm_txt}"
        if pr is not None and pr.m is not None and pr.m.ok:
            line += f"  [{pair}; naive K-S/χ² p < {P_ALARM} on the same pair: {pr.found}"
            line += f" ({', '.join(pr.columns)})]" if pr.columns else "]"
        else:
            line += f"  [{pair}]"
        print(line)
    for r in results:
        if r.window != drift_window.key or r.found is None or r.m is None:
            continue
        groups = r.m.extra.get("by_check")
        # mmon: one verdict per check type; the others: one set of flagged columns.
        sets = {f"{r.tool} ({c})": set(f) for c, f in groups.items()} if groups else {r.tool: set(r.columns)}  # type: ignore[union-attr]
        if groups is not None and not groups:
            sets = {r.tool: set()}
        for label, names in sets.items():
            hit = [c for c in DRIFT_COLUMNS if c in names]
            extra = sorted(names - set(DRIFT_COLUMNS))
            if label.endswith("_check)") and not label.endswith("(baseline_drift_check)"):
                # Not a distribution test: say what it flagged, not what it "missed".
                print(f"drifted window, {label}: flags {len(names)} column(s), {len(hit)} of them injected")
                continue
            print(
                f"drifted window, {label}: found {len(hit)}/{len(DRIFT_COLUMNS)} injected columns"
                + (
                    f", missed {', '.join(c for c in DRIFT_COLUMNS if c not in hit)}"
                    if len(hit) < len(DRIFT_COLUMNS)
                    else ""
                )
                + (f", plus {len(extra)} not injected ({', '.join(extra)})" if extra else "")
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
