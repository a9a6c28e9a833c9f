"""The report in a real browser: Debian's headless Chromium, with the network blocked.

Skipped with a message when /usr/bin/chromium is missing, except under CI=true, where it must be
there (.ci/run installs it). Each test starts Chromium with a fresh profile and no network: a
proxy that refuses every connection and a resolver that resolves nothing.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from mmon.report import build_report
from mmon.store import Store
from tests.report.test_report import XSS, Dom, dq_run  # noqa: F401 - the module fixture is shared

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
    "--enable-logging=stderr", "--v=0", "--virtual-time-budget=3000",
]  # fmt: skip


@pytest.fixture
def chromium(tmp_path: Path):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing under CI=true: .ci/run installs Debian's chromium")
        pytest.skip("browser tests need Debian's chromium (apt-get install chromium); not installed here")

    def run(url: str, *args: str, javascript: bool = True) -> tuple[str, str]:
        profile = tmp_path / f"profile{len(list(tmp_path.glob('profile*')))}"
        if not javascript:  # no command-line switch turns scripts off in headless mode; a profile setting does
            (profile / "Default").mkdir(parents=True)
            prefs = '{"profile": {"default_content_setting_values": {"javascript": 2}}}'
            (profile / "Default" / "Preferences").write_text(prefs)
        cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, url]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout, done.stderr

    return run


def _console(stderr: str) -> list[str]:
    """Messages the page wrote to its console (Chromium logs them as CONSOLE lines)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def _png_pixels(path: Path) -> np.ndarray:
    """Decode an 8-bit, non-interlaced RGB(A) PNG (what Chromium writes) with zlib alone."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0
    bpp = 3 if color == 2 else 4
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, width * bpp + 1)
    out = np.zeros((height, width * bpp), dtype=np.int32)
    for y in range(height):
        f, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        prev = out[y - 1] if y else np.zeros(width * bpp, dtype=np.int32)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) % 256
        else:  # Sub, Average, Paeth depend on the pixel to the left: go byte by byte
            cur = np.zeros_like(line)
            for x in range(line.size):
                a = cur[x - bpp] if x >= bpp else 0
                b, c = prev[x], prev[x - bpp] if x >= bpp else 0
                if f == 1:
                    pred = a
                elif f == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (line[x] + pred) % 256
        out[y] = cur
    return out.reshape(height, width, bpp)[:, :, :3]


def _report_file(dq_run: dict[str, Path]) -> Path:  # noqa: F811
    _, html = build_report(
        Store({}),
        str(dq_run["run"]),
        baseline_statistics=str(dq_run["base"] / "statistics.json"),
        baseline_constraints=str(dq_run["base"] / "constraints.json"),
    )
    page = dq_run["root"] / "browser.html"
    page.write_text(html)
    return page


def test_rendered_dom(chromium, dq_run: dict[str, Path]) -> None:  # noqa: F811
    import json

    page = _report_file(dq_run)
    dom_text, stderr = chromium(page.as_uri(), "--dump-dom")
    dom = Dom(dom_text)
    violations = json.loads((dq_run["run"] / "constraint_violations.json").read_text())["violations"]
    rows = dom.find("tr", "violation")
    assert len(rows) == len(violations)
    assert len(dom.find("section", "panel")) == 5
    # The script ran (it fills the panel count) and logged nothing: no error, no warning.
    assert "5 of 5" in "".join(dom.text)
    assert _console(stderr) == []
    # Nothing points outside the file.
    for _, attrs in dom.tags:
        for key in ("src", "href"):
            assert not (attrs.get(key) or "").lower().startswith(("http:", "https:", "//")), attrs
    # The hostile feature name is text in the rendered page, not an element.
    assert not dom.find("img")
    assert XSS in "".join(dom.text)
    assert XSS in [a.get("data-name") for a in dom.find("section", "panel")]
    # Each violation's description is in its row, verbatim.
    text = "".join(dom.text)
    assert all(v["description"] in text for v in violations)


def test_filter_from_the_link_and_readable_without_javascript(chromium, dq_run: dict[str, Path]) -> None:  # noqa: F811
    page = _report_file(dq_run)
    dom_text, stderr = chromium(page.as_uri() + "#filter=colo", "--dump-dom")
    dom = Dom(dom_text)
    visible = [a["data-name"] for a in dom.find("section", "panel") if "hidden" not in (a.get("class") or "")]
    assert visible == ["color"] and _console(stderr) == []
    dom_text, _ = chromium(page.as_uri(), "--dump-dom", javascript=False)
    dom = Dom(dom_text)
    panels = dom.find("section", "panel")
    assert len(panels) == 5 and not [p for p in panels if "hidden" in (p.get("class") or "")]
    assert "5 of 5" not in "".join(dom.text)  # the script did not run, everything is still there


def test_screenshot_is_not_blank(chromium, dq_run: dict[str, Path], tmp_path: Path) -> None:  # noqa: F811
    page = _report_file(dq_run)
    shot = tmp_path / "shot.png"
    _, stderr = chromium(page.as_uri(), f"--screenshot={shot}", "--window-size=1000,1400")
    assert shot.exists(), stderr[-1000:]
    px = _png_pixels(shot)
    assert px.shape[:2] == (1400, 1000)
    colours = np.unique(px.reshape(-1, 3), axis=0)
    assert len(colours) > 50  # text, bars and lines, not one flat colour
    # The baseline and current series colours (#4c78a8, #e45756, drawn at 85 % opacity) are on screen.
    red = (px[:, :, 0] > 200) & (px[:, :, 1] < 140) & (px[:, :, 2] < 140)
    blue = (px[:, :, 2] > 150) & (px[:, :, 0] < 120)
    assert red.sum() > 500 and blue.sum() > 500
