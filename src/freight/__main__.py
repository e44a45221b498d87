"""`python -m freight` is the same as the `freight` command."""

from freight.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
