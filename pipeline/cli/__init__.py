"""The `recap` command line (:mod:`pipeline.cli.app`)."""

from pipeline.cli.app import main

__all__ = ["main"]
