"""`python -m toolkit` and the `ledger-export` command (pyproject.toml): `toolkit.cli.script`,
imported here so that a Ctrl-C while it is imported (the first ~0.1 s, before `main` and its
handler) is one line and exit 130, not a traceback. Nothing but the standard library before it."""

import sys


def run() -> None:
    try:
        from toolkit.cli import script
    except KeyboardInterrupt:
        print("ledger-export: interrupted; nothing was done.", file=sys.stderr)
        sys.exit(130)  # EXIT_INTERRUPTED, not imported: its module may be what was cut short
    script()


if __name__ == "__main__":
    run()
