"""Wiring only: the roles (`okrstream run` as a supervisor over the broker and the pipeline,
`serve`, `worker`, `store`), the faust app that joins the sink and the scorer, and the demo feed.

Each name is imported from its module on first use, so a CLI command that only reads run.json
or store.json does not load faust, chDB and FastAPI.
"""

from __future__ import annotations

import typing

from .. import _lazy

if typing.TYPE_CHECKING:
    from ._batches import BatchWindow
    from ._config_files import load_mappings, load_registry
    from ._demo import DemoFeed, demo_history
    from ._faust_kafka import KafkaTransport
    from ._filesystem import filesystem
    from ._run_file import read_run_file, read_store_file, with_password, write_run_file
    from ._runtime import auth_warning, run, serve, worker
    from ._store_role import store
    from ._worker import build_app

__all__ = [
    "BatchWindow",
    "DemoFeed",
    "KafkaTransport",
    "auth_warning",
    "build_app",
    "demo_history",
    "filesystem",
    "load_mappings",
    "load_registry",
    "read_run_file",
    "read_store_file",
    "run",
    "serve",
    "store",
    "with_password",
    "worker",
    "write_run_file",
]

_HOMES = {
    "BatchWindow": "._batches",
    "DemoFeed": "._demo",
    "KafkaTransport": "._faust_kafka",
    "auth_warning": "._runtime",
    "build_app": "._worker",
    "demo_history": "._demo",
    "filesystem": "._filesystem",
    "load_mappings": "._config_files",
    "load_registry": "._config_files",
    "read_run_file": "._run_file",
    "read_store_file": "._run_file",
    "run": "._runtime",
    "serve": "._runtime",
    "store": "._store_role",
    "with_password": "._run_file",
    "worker": "._runtime",
    "write_run_file": "._run_file",
}

__getattr__ = _lazy.lazy_names(__name__, __all__, _HOMES)
