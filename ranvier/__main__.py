"""``python -m ranvier`` runs the command-line interface (same as the ``ranvier`` script)."""

from ranvier.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
