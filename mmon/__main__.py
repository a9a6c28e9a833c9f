"""``python -m mmon`` and the ``mmon`` script: Ctrl-C while the libraries load is one line, exit 130."""

import sys


def entry() -> None:
    try:
        from mmon.cli.app import main
    except KeyboardInterrupt:
        sys.stderr.write("mmon: interrupted\n")
        sys.exit(130)
    main()


if __name__ == "__main__":
    entry()
