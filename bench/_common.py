"""Shared helpers for the benchmark scripts in bench/: run a command, measure it, print a table.

``measure(cmd)`` runs one command in its own process group and reports its wall time and the peak
resident memory of its whole process tree. Every 50 ms it samples, for each process of the tree,
the kernel's high-water mark (``VmHWM`` in /proc/PID/status, which catches spikes between two
samples) and the current RSS (psutil). Peak RSS is the larger of the highest VmHWM of any one
process and the highest sum of RSS over the tree (worker processes running side by side).

CPU time (user + system) comes from ``wait4``'s rusage: unlike wall time it barely moves when
something else keeps the machine busy, and ``load_max`` (the highest 1-minute load average seen
during the run) tells when that happened.

Not ``ru_maxrss`` (``wait4``, ``resource``): Linux carries the *parent's* high-water mark into a
forked child at exec, so a child of a big process (this bench, after making 10M rows in memory)
reports at least the parent's peak. ``/usr/bin/time -v`` avoids that only because it is small.

Only the standard library and psutil (in mmon's test extra) are needed, so any script — or any
venv that has psutil — can import this file.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

try:
    import psutil
except ImportError:  # pragma: no cover - bench scripts run in mmon's venv, which has psutil
    psutil = None  # type: ignore[assignment]

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass
class Measurement:
    cmd: list[str]
    wall_s: float
    peak_rss: int  # bytes
    returncode: int | None  # None when killed for the timeout
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    samples: int = 0
    cpu_s: float = 0.0  # user + system CPU seconds of the process and the children it waited for
    load_max: float = 0.0  # highest 1-minute load average seen during the run (machine busy?)
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.returncode == 0

    @property
    def peak_mib(self) -> float:
        return self.peak_rss / MiB

    def failure(self) -> str:
        """One line saying why the run did not succeed ('' when it did)."""
        if self.timed_out:
            return f"timeout after {self.wall_s:.0f} s"
        if self.returncode == 0:
            return ""
        if self.returncode is not None and self.returncode < 0:
            try:
                name = signal.Signals(-self.returncode).name
            except ValueError:
                name = str(-self.returncode)
            if self.extra.get("rss_limit_hit"):
                return f"stopped: RSS passed the {human_bytes(int(self.extra['rss_limit_hit']))} limit"
            hint = " (out of memory?)" if name == "SIGKILL" else ""
            return f"killed by {name}{hint}"
        return f"exit {self.returncode}: {last_line(self.stderr) or last_line(self.stdout)}"


def last_line(text: str, width: int = 160) -> str:
    """The last non-empty line of ``text`` (a traceback's error line), shortened to ``width``."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line:
            return line if len(line) <= width else line[: width - 1] + "…"
    return ""


def _vm_hwm(pid: int) -> int:
    """Peak RSS of one live process so far (bytes), 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _sample_tree(root: psutil.Process, hwm: dict[int, int]) -> int:
    """Sum of RSS over ``root`` and its descendants now; updates ``hwm`` (pid -> VmHWM)."""
    total = 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
        peak = _vm_hwm(p.pid)
        if peak > hwm.get(p.pid, 0):
            hwm[p.pid] = peak
    return total


def measure(
    cmd: Sequence[str],
    *,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    interval: float = 0.05,
    rss_limit: int | None = None,
) -> Measurement:
    """Run ``cmd`` to completion (or until ``timeout`` seconds, then kill its process group).

    stdout and stderr go to temporary files (no pipe can fill up and stall the child) and are
    returned as text. Never raises for the command's own failure: look at ``ok``/``failure()``.
    With ``rss_limit`` (bytes) the tree is killed once its sampled RSS passes the limit, before the
    kernel's OOM killer would pick a victim on a shared machine.
    """
    cmd = [str(c) for c in cmd]
    with tempfile.TemporaryFile("w+b") as out, tempfile.TemporaryFile("w+b") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=dict(env) if env is not None else None,
            cwd=cwd, start_new_session=True,
        )
        root = psutil.Process(proc.pid) if psutil is not None else None
        peak_tree = 0
        samples = 0
        timed_out = False
        limit_hit = 0
        hwm: dict[int, int] = {}
        load_max = 0.0
        while True:
            # Sample before reaping: a zombie's /proc/PID/status has no memory lines any more.
            if root is not None:
                rss = _sample_tree(root, hwm)
                peak_tree = max(peak_tree, rss)
                samples += 1
                if rss_limit is not None and rss > rss_limit:
                    limit_hit = rss_limit
            load_max = max(load_max, os.getloadavg()[0])
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                wall = time.perf_counter() - start
                break
            over_time = timeout is not None and time.perf_counter() - start > timeout
            if over_time or limit_hit:
                timed_out = over_time and not limit_hit
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                pid, status, usage = os.wait4(proc.pid, 0)
                wall = time.perf_counter() - start
                break
            time.sleep(interval)
        proc.returncode = os.waitstatus_to_exitcode(status)
        # Anything the child left behind in its session (a daemonised grandchild) goes too.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        out.seek(0)
        err.seek(0)
        return Measurement(
            cmd=cmd,
            wall_s=wall,
            peak_rss=max(peak_tree, max(hwm.values(), default=0)),
            returncode=None if timed_out else proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            timed_out=timed_out,
            samples=samples,
            cpu_s=usage.ru_utime + usage.ru_stime,
            load_max=load_max,
            extra={"rss_limit_hit": limit_hit} if limit_hit else {},
        )


# -- reporting ------------------------------------------------------------------------------------


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]], align: str | None = None) -> str:
    """A GitHub-markdown table, padded so it also reads as plain text. ``align``: one of l/r per column."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    align = align or "l" * len(headers)

    def line(r: Sequence[str]) -> str:
        parts = [c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(r, widths, align, strict=True)]
        return "| " + " | ".join(parts) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if a == "r" else ("-" * (w + 2)) for w, a in zip(widths, align, strict=True)) + "|"
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, str]:
    ram = psutil.virtual_memory().total if psutil is not None else os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu_model(),
        "ram": f"{ram / GiB:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
    }


def fmt_s(x: float) -> str:
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"


def fmt_mib(b: int) -> str:
    return f"{b / MiB:,.0f}"


def fmt_ratio(x: float | None) -> str:
    return "" if x is None else f"{x:.2f}×"


def human_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def free_disk(path: str | os.PathLike[str]) -> int:
    return shutil.disk_usage(path).free


def versus_args(
    ap: argparse.ArgumentParser, data_dir: str, bare_metavar: str, bare: Callable[[str], None]
) -> argparse.Namespace | None:
    """The command line of a script that times ``mmon baseline`` against ``--before`` and its own
    bare polars pass: adds --repeat, --before, --data-dir and --bare to ``ap`` and parses it. With
    --bare (how ``best_baselines`` runs the bare pass) it runs ``bare`` on the path and returns None."""
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--before", help="a checkout of another commit to run beside this one")
    ap.add_argument("--data-dir", default=os.environ.get("MMON_BENCH_DATA", data_dir))
    ap.add_argument("--bare", metavar=bare_metavar)
    args = ap.parse_args()
    if args.bare:
        bare(args.bare)
        return None
    return args


def best_baselines(
    before: str | None, data: Path, out: Path, script: Path, repeat: int, label: str = ""
) -> dict[str, list[float]]:
    """``mmon baseline DATA`` from this checkout ("mmon"), from ``before``'s if given ("before"), and
    the bare pass ``SCRIPT --bare DATA`` ("bare polars"), alternating, ``repeat`` times: per name, in
    that order, ``[CPU s, wall s, peak RSS, load]`` -- the best CPU and wall, the worst peak and load
    (a name whose runs all failed is left out). Each checkout runs in its own folder: ``python -m``
    puts the working folder first on the path, so PYTHONPATH alone would run another checkout's code."""
    repo = Path(__file__).resolve().parent.parent
    configs: list[tuple[str, Path | None]] = [("mmon", repo)]
    if before:
        configs.append(("before", Path(before).resolve()))
    configs.append(("bare polars", None))
    best: dict[str, list[float]] = {}
    for _ in range(repeat):
        for name, checkout in configs:
            if checkout is None:
                cmd = [sys.executable, str(script), "--bare", str(data)]
                env = dict(os.environ)
            else:
                shutil.rmtree(out, ignore_errors=True)
                cmd = [sys.executable, "-m", "mmon", "baseline", str(data), "-o", str(out), "-q"]
                env = {**os.environ, "PYTHONPATH": str(checkout)}
            m = measure(cmd, env=env, cwd=checkout or repo)
            if not m.ok:
                print(f"{name}{label}: {m.failure()} {m.stderr[-300:]}", file=sys.stderr)
                continue
            cur = [m.cpu_s, m.wall_s, float(m.peak_rss), m.load_max]
            prev = best.get(name)
            best[name] = cur if prev is None else [min(prev[0], cur[0]), min(prev[1], cur[1]), max(prev[2], cur[2]), max(prev[3], cur[3])]
    return {name: best[name] for name, _ in configs if name in best}
