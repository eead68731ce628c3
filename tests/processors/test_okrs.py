"""`demo_okrs`: the shipped objectives, moved to the quarter a demo runs in."""

from __future__ import annotations

from datetime import date
from importlib import resources

import pytest
import yaml

from processors.okr import demo_okrs, shipped_okrs
from schemas import EventTypeRegistry, KpiCatalog, OkrCatalog


def shipped(name: str) -> dict:
    return yaml.safe_load(resources.files("schemas").joinpath(name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def kpis():
    return KpiCatalog.from_mapping(
        shipped("kpis.yaml"), EventTypeRegistry.from_mapping(shipped("event_types.yaml"))
    ).kpis


def phases(okrs: dict) -> list[date]:
    return [
        phase["until"]
        for objective in okrs["objectives"].values()
        for kr in objective["key_results"].values()
        for phase in (kr.get("metric") or {}).get("phases", ())
    ]


def test_in_the_shipped_quarter_nothing_moves():
    assert yaml.safe_load(demo_okrs(date(2026, 11, 23))) == yaml.safe_load(shipped_okrs())


@pytest.mark.parametrize(
    ("today", "period", "untils"),
    [
        (date(2027, 1, 1), "2027-Q1", [date(2027, 1, 31), date(2027, 2, 28)]),
        (date(2027, 5, 14), "2027-Q2", [date(2027, 4, 30), date(2027, 5, 31)]),
        (date(2028, 2, 29), "2028-Q1", [date(2028, 1, 31), date(2028, 2, 29)]),
        (date(2026, 7, 1), "2026-Q3", [date(2026, 7, 31), date(2026, 8, 31)]),
    ],
)
def test_objectives_and_their_phases_move_to_the_current_quarter(kpis, today, period, untils):
    moved = yaml.safe_load(demo_okrs(today))
    assert {o["period"] for o in moved["objectives"].values()} == {period}
    assert phases(moved) == untils
    OkrCatalog.from_mapping(moved, kpis)  # still valid: every phase inside its period
    shipped_ids = shipped("okrs.yaml")["objectives"].keys()
    assert moved["objectives"].keys() == shipped_ids
