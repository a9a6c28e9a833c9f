"""Reading capture-merge output folders in tests: the window's ``part-*`` files."""

from __future__ import annotations

from pathlib import Path

from mmon.capture.parts import PART_PATTERN


def parts(folder: Path, ext: str) -> list[Path]:
    """The part files of a merged window, in part order."""
    return sorted(p for p in Path(folder).iterdir() if PART_PATTERN.match(p.name) and p.name.endswith(f".{ext}"))


def one_part(folder: Path, ext: str) -> Path:
    """The only part of a small window (one chunk of records: one part, as mmon wrote one file before)."""
    found = parts(folder, ext)
    assert len(found) == 1, [p.name for p in found]
    return found[0]
