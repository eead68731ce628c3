"""`okrstream kpi apply` and `okr apply`: what the file omits stays in force unless `--prune`.

Each runs as a user types it, on the store directly (nothing running) and through a running
process's HTTP API (the API served on the test's store, named in run.json as `okrstream run`
names itself), and the API answers its own callers the same way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from processors.cli import main
from processors.runtime import read_run_file, write_run_file

KPIS = """
kpis:
  orders: {title: Orders, events: order.placed, aggregation: count}
  revenue: {title: Revenue, events: order.placed, aggregation: sum, measure: amount}
"""
ORDERS_ONLY = """
kpis:
  orders: {title: Orders, events: order.placed, aggregation: count}
"""


def objective(oid: str, title: str, parts: dict[str, str]) -> str:
    key_results = "".join(
        f"      {kr}:\n        title: {kr}\n"
        f"        metric: {{kpi: {kpi}, direction: increase_to, start: 0, target: 100}}\n"
        for kr, kpi in parts.items()
    )
    head = f"  {oid}:\n    title: {title}\n    owner: {oid}\n    period: 2026-Q4\n"
    return f"{head}    key_results:\n{key_results}"


SELL = objective("sell", "Sell more", {"sell-orders": "orders", "sell-revenue": "revenue"})
SUPPORT = objective("support", "Support more", {"support-orders": "orders", "support-revenue": "revenue"})
OKRS = "objectives:\n" + SELL + SUPPORT
SELL_ONLY = "objectives:\n" + SELL


Okrstream = Callable[..., tuple[int, str, str]]


@pytest.fixture(params=["store", "running"])
def okrstream(request, settings, topics, monkeypatch, capsys) -> Okrstream:
    """`okrstream(*argv)` in-process: (exit code, stdout, stderr). With "store" nothing runs, so
    each command opens the store itself; with "running" it asks the HTTP API named in run.json."""
    for name, value in settings.as_environment().items():
        monkeypatch.setenv(name, value)
    if request.param == "running":
        api = request.getfixturevalue("start_api")(settings, request.getfixturevalue("store"))
        running = {"pid": os.getpid(), "api_url": api.url, "admin_token": api.admin_token}
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)  # no chDB made it over HTTP
        write_run_file(settings, {"pid": os.getpid(), "api_url": api.url}, api.admin_token)
        assert read_run_file(settings) == running  # so every command asks the API

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def written(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_kpi_apply_removes_what_the_file_omits_only_with_prune(okrstream: Okrstream, tmp_path) -> None:
    both, one = written(tmp_path, "kpis.yaml", KPIS), written(tmp_path, "orders.yaml", ORDERS_ONLY)
    assert okrstream("kpi", "apply", both)[:2] == (0, "applied: create: orders, revenue\n")

    assert okrstream("kpi", "apply", one, "--dry-run")[:2] == (
        0,
        "dry run, nothing changed: nothing to do: every KPI in the file is applied as defined;"
        " would remove with --prune: revenue\n",
    )
    assert okrstream("kpi", "apply", one)[:2] == (
        0,
        "applied: nothing to do: every KPI in the file is applied as defined;"
        " would remove with --prune: revenue\n",
    )
    assert [line.split()[0] for line in okrstream("kpi", "list")[1].splitlines()] == ["orders", "revenue"]

    assert okrstream("kpi", "apply", one, "--dry-run", "--prune")[:2] == (
        0,
        "dry run, nothing changed: remove: revenue\n",
    )
    assert [line.split()[0] for line in okrstream("kpi", "list")[1].splitlines()] == ["orders", "revenue"]
    assert okrstream("kpi", "apply", one, "--prune")[:2] == (0, "applied: remove: revenue\n")
    assert [line.split()[0] for line in okrstream("kpi", "list")[1].splitlines()] == ["orders"]


def test_okr_apply_removes_what_the_file_omits_only_with_prune(okrstream: Okrstream, tmp_path) -> None:
    assert okrstream("kpi", "apply", written(tmp_path, "kpis.yaml", KPIS))[0] == 0
    both, one = written(tmp_path, "okrs.yaml", OKRS), written(tmp_path, "sell.yaml", SELL_ONLY)

    def objectives() -> list[str]:
        code, out, err = okrstream("okr", "status", "--format", "json")
        assert code == 0, err
        return sorted(o["id"] for o in json.loads(out)["objectives"])

    assert okrstream("okr", "apply", both) == (0, "applied: create: sell, support\n", "")
    assert okrstream("okr", "apply", one, "--dry-run")[:2] == (
        0,
        "dry run, nothing changed: nothing to do: every objective in the file is applied as defined;"
        " would remove with --prune: support\n",
    )
    assert okrstream("okr", "apply", one)[:2] == (
        0,
        "applied: nothing to do: every objective in the file is applied as defined;"
        " would remove with --prune: support\n",
    )
    assert objectives() == ["sell", "support"]

    assert okrstream("okr", "apply", one, "--dry-run", "--prune")[:2] == (
        0,
        "dry run, nothing changed: remove: support\n",
    )
    assert objectives() == ["sell", "support"]
    assert okrstream("okr", "apply", one, "--prune")[:2] == (0, "applied: remove: support\n")
    assert objectives() == ["sell"]


def test_an_apply_that_would_break_what_stays_in_force_is_refused(okrstream: Okrstream, tmp_path) -> None:
    assert okrstream("kpi", "apply", written(tmp_path, "kpis.yaml", KPIS))[0] == 0
    board = "  board:\n    title: The board\n    owner: ceo\n    period: 2026-Q4\n    key_results:\n"
    board += "      sales-up:\n        title: Sales up\n        rollup: {key_results: [sell-orders]}\n"
    assert okrstream("okr", "apply", written(tmp_path, "okrs.yaml", OKRS + board))[0] == 0
    renamed = SELL_ONLY.replace("sell-orders:", "sell-order-count:")
    code, out, err = okrstream("okr", "apply", written(tmp_path, "renamed.yaml", renamed))
    assert (code, out) == (2, "")
    assert (
        "objectives.board.key_results.sales-up.rollup.key_results[0]: unknown key result 'sell-orders':"
        " no objective holds it any more ('board' is in force and not in this file:"
        " add it as it should be, or prune it)"
    ) in err
    assert okrstream("okr", "apply", str(tmp_path / "renamed.yaml"), "--prune")[:2] == (
        0,
        "applied: change: sell; remove: board, support\n",
    )


def test_a_kpi_that_key_results_in_force_read_is_not_pruned(okrstream: Okrstream, tmp_path) -> None:
    """They would go on scoring with nothing to read; the refusal names them, and nothing changes."""
    assert okrstream("kpi", "apply", written(tmp_path, "kpis.yaml", KPIS))[0] == 0
    assert okrstream("okr", "apply", written(tmp_path, "sell.yaml", SELL_ONLY))[0] == 0
    one = written(tmp_path, "orders.yaml", ORDERS_ONLY)

    for dry_run in (("--dry-run",), ()):
        code, out, err = okrstream("kpi", "apply", one, "--prune", *dry_run)
        assert (code, out) == (2, "")
        assert (
            "kpis.revenue: key results in force read it (sell-revenue): link them to another KPI,"
            " or remove their objectives (okr apply --prune), before pruning it"
        ) in err
    assert [line.split()[0] for line in okrstream("kpi", "list")[1].splitlines()] == ["orders", "revenue"]

    orders_only = SELL_ONLY.replace("{kpi: revenue,", "{kpi: orders,")
    assert okrstream("okr", "apply", written(tmp_path, "sell-orders.yaml", orders_only))[0] == 0
    assert okrstream("kpi", "apply", one, "--prune")[:2] == (0, "applied: remove: revenue\n")


def test_the_api_takes_prune_as_a_query_parameter(serve_api) -> None:
    api = serve_api()

    def post(path: str, body: str):
        return api.request("POST", path, api.admin_token, content=body.encode())

    assert post("/v1/kpis/apply", KPIS).status_code == 200
    answer = post("/v1/kpis/apply?dry_run=true", ORDERS_ONLY).json()
    assert {k: answer[k] for k in ("dry_run", "prune", "removed", "kept", "unchanged")} == {
        "dry_run": True,
        "prune": False,
        "removed": [],
        "kept": ["revenue"],
        "unchanged": ["orders"],
    }
    refused = post("/v1/kpis/apply?prune=sometimes", ORDERS_ONLY)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["query", "prune"]
    answer = post("/v1/kpis/apply?prune=true", ORDERS_ONLY).json()
    assert (answer["prune"], answer["removed"], answer["kept"]) == (True, ["revenue"], [])
    assert answer["summary"] == "remove: revenue"

    assert post("/v1/kpis/apply", KPIS).status_code == 200
    assert post("/v1/objectives/apply", OKRS).json()["created"] == ["sell", "support"]
    answer = post("/v1/objectives/apply", SELL_ONLY).json()
    assert (answer["prune"], answer["removed"], answer["kept"]) == (False, [], ["support"])
    answer = post("/v1/objectives/apply?prune=1", SELL_ONLY).json()
    assert (answer["prune"], answer["removed"], answer["kept"]) == (True, ["support"], [])
    refused = post("/v1/objectives/apply?prune=sometimes", SELL_ONLY)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["query", "prune"]
    refused = post("/v1/kpis/apply?prune=true", ORDERS_ONLY)  # sell-revenue reads revenue
    assert refused.status_code == 422
    assert [(e["path"], e["rule"]) for e in refused.json()["errors"]] == [("kpis.revenue", "kpi_in_use")]
