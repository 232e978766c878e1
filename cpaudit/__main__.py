"""`python -m cpaudit` (and `torchrun -m cpaudit ...`) run the CLI."""

from cpaudit.cli.app import app

if __name__ == "__main__":
    app()
