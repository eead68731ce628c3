"""The `okrstream` command: each command group in its module; a command asks the running process
over its HTTP API, or opens the store itself when nothing runs."""

from ._main import main

__all__ = [
    "main",
]
