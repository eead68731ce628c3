"""Wiring only: the roles (`okrstream run` as a supervisor over the broker and the pipeline,
`serve`, `worker`, `store`), the faust app that joins the sink and the scorer, and the demo feed."""

from ._batches import BatchWindow
from ._demo import DemoFeed, demo_history
from ._faust_kafka import KafkaTransport
from ._runtime import auth_warning, load_mappings, load_registry, read_run_file, run, serve, worker
from ._store_role import store
from ._worker import build_app

__all__ = [
    "BatchWindow",
    "DemoFeed",
    "KafkaTransport",
    "auth_warning",
    "build_app",
    "demo_history",
    "load_mappings",
    "load_registry",
    "read_run_file",
    "run",
    "serve",
    "store",
    "worker",
]
