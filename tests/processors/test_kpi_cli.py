"""`okrstream kpi apply|list|show` on the store directly (nothing running), as a user types them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from processors.cli import main
from processors.clickhouse import BatchPosition, InsertRawEvents, event_row

ORDERS = """
kpis:
  orders:
    title: Orders
    unit: orders
    events: order.placed
    aggregation: count
    dimensions: [region]
    health: {at_or_above: 4, grain: day}
"""


@pytest.fixture
def cli(settings, store, monkeypatch, capsys):
    """Run `okrstream ...` in-process against the test's store; returns (exit code, stdout, stderr)."""
    position = BatchPosition("log", 0, 0, 0)
    events = [
        {
            "event_id": f"o{i}",
            "type": "order.placed",
            "source": "shop",
            "occurred_at": f"2026-11-0{1 + i % 2}T23:30:00+01:00",
            "dimensions": {"region": "EU" if i % 4 else "NA", "channel": "web"},
            "measures": {"amount": 10.0},
        }
        for i in range(8)
    ]
    rows = [event_row(e, 0, datetime.now(UTC), position) for e in events]
    store.insert(InsertRawEvents(settings.clickhouse_database, position, rows))
    store.close()  # the command opens the store itself, as when nothing runs
    for name, value in settings.as_environment().items():
        monkeypatch.setenv(name, value)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_apply_list_and_show(cli, tmp_path) -> None:
    path = tmp_path / "kpis.yaml"
    path.write_text(ORDERS)
    assert cli("kpi", "apply", str(path), "--dry-run")[:2] == (
        0,
        "dry run, nothing changed: create: orders\n",
    )
    code, out, err = cli("kpi", "apply", str(path))
    assert (code, out) == (0, "applied: create: orders\n")
    assert "backfill orders: 100%" in err and "8/8" in err  # the progress bar, on stderr
    assert cli("kpi", "apply", str(path))[1] == "applied: nothing to do: every KPI is applied as defined\n"
    assert cli("kpi", "list")[1].split() == ["orders", "count", "Orders", "(orders)", "by", "region"]
    code, out, _ = cli(
        "kpi",
        "show",
        "orders",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-03",
        "--tz",
        "Europe/Oslo",
        "--format",
        "csv",
    )
    assert (code, out.splitlines()) == (
        0,
        [
            "period,orders,previous,year_ago,health",
            "2026-11-01T00:00:00+01:00,4.0,0.0,0.0,healthy",  # no orders then: 0, not unknown
            "2026-11-02T00:00:00+01:00,4.0,4.0,0.0,healthy",
        ],
    )
    code, out, _ = cli(
        "kpi", "show", "orders", "--from", "2026-11-01", "--to", "2026-11-03", "--by", "region"
    )
    assert out.splitlines() == [
        "Orders (orders), per day, UTC",
        "period                  region  orders  vs previous  vs year ago  health",
        "2026-11-01 00:00 +0000  EU      2.00                              UNHEALTHY",
        "2026-11-01 00:00 +0000  NA      2.00                              UNHEALTHY",
        "2026-11-02 00:00 +0000  EU      4.00    +100.0%                   healthy",
        "2026-11-02 00:00 +0000  NA      0.00    -100.0%                   UNHEALTHY",  # a day without orders
    ]


def test_bad_definitions_and_names_are_refused_with_reasons(cli, tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("kpis:\n  Orders: {title: O, events: order.placed, aggregation: median}\n")
    code, _, err = cli("kpi", "apply", str(path))
    assert code == 2
    assert "kpis.Orders" in err and "aggregation" in err
    code, _, err = cli("kpi", "show", "nope")
    assert (code, err) == (2, "okrstream kpi: no KPI named 'nope'; applied: none\n")
