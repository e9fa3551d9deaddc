"""The `linrep-edge` command (entry point `linrep_edge.cli:main`)."""

from linrep_edge.cli.main import main

__all__ = ["main"]
