"""Wiring only: `okrstream run` as a supervisor over the broker and the pipeline, the faust app
that joins the sink and the scorer, and the demo feed."""

from ._runtime import load_mappings, load_registry, read_run_file, run, serve
from ._worker import build_app

__all__ = [
    "build_app",
    "load_mappings",
    "load_registry",
    "read_run_file",
    "run",
    "serve",
]
