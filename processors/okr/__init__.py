"""OKRs: applying objectives, scoring key results as events land, and reading scores back."""

from ._okr_log import OkrLog
from ._okr_scorer import LandedTouches, OkrScorer
from ._okr_state import OkrDefinitions, kpi_readers, load_state
from ._okrs import (
    apply_okrs,
    demo_okrs,
    key_result_report,
    okr_report,
    plan_report,
    read_okrs,
    shipped_okrs,
)

__all__ = [
    "LandedTouches",
    "OkrDefinitions",
    "OkrLog",
    "OkrScorer",
    "apply_okrs",
    "demo_okrs",
    "key_result_report",
    "kpi_readers",
    "load_state",
    "okr_report",
    "plan_report",
    "read_okrs",
    "shipped_okrs",
]
