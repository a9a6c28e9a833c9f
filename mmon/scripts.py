"""Loading of the user's Python scripts (``--postprocessor``, ``--preprocessor``, ``--model file.py:fn``)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def load_script(source: str | bytes, filename: str, name: str) -> ModuleType:
    """Run a user's script as a fresh module named ``name`` and return it; its own exceptions propagate.

    The source is read by the caller (local file or any store URL), so a remote script needs no
    temporary file; ``filename`` appears in the script's tracebacks. The module is registered in
    ``sys.modules`` before it runs, as ``import`` would, so dataclasses, pickling and
    ``typing.get_type_hints`` inside the script find it.
    """
    spec = importlib.util.spec_from_loader(name, loader=None, origin=filename)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__file__ = filename
    sys.modules[name] = module
    try:
        exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 - the user's own script
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
