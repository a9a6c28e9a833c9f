"""The command line: a thin shell over the library (``mmon.baseline``, ``mmon.run``, …)."""
