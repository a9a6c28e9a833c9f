"""Where a URL points: its protocol, whether it is a local path, and joining parts onto it.

Pure string functions with no store behind them, so that modules the store itself uses (such as
``mmon.publish``) can name paths without importing the store."""

from __future__ import annotations

import os
import posixpath


def protocol_of(url: str) -> str:
    if "://" not in url:
        return "file"
    return url.split("://", 1)[0].lower()


def is_local(url: str) -> bool:
    return protocol_of(url) == "file"


def local_path(url: str) -> str:
    return url[len("file://") :] if url.startswith("file://") else url


def join(base: str, *names: str) -> str:
    """Join path parts the way the URL's store expects (``/`` for URLs, os.sep for local paths)."""
    if is_local(base):
        return os.path.join(local_path(base), *names)
    return posixpath.join(base.rstrip("/"), *names)
