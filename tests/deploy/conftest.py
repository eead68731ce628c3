"""Shared by the deploy tests: where deploy/ is, and how a test names a missing tool."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.fixture
def deploy_dir() -> Path:
    return DEPLOY


@pytest.fixture
def tool():
    """`tool("promtool", "Debian package prometheus")`: the tool's path, or the test skips saying why."""

    def find(name: str, where: str) -> str:
        path = shutil.which(name)
        if path is None:
            pytest.skip(f"{name} is not installed ({where}; .ci/run installs it)")
        return path

    return find
