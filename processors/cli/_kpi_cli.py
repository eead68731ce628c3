"""`okrstream kpi apply|list|show`: through the running process's API, or on the store directly.

In embedded mode the running `okrstream run` owns the chDB store, so these commands ask it over
HTTP; with nothing running they open the store themselves. Both paths return the same JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import getpass
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from tqdm import tqdm

from schemas import ConfigError, Grain, Settings

from ._backend import ApiCall, Backend, apply_query

if TYPE_CHECKING:
    from ..store import Store

# Each `on_store` imports what it runs: a command answered by the running process over its API
# never loads them (faust, chDB, the KPI and OKR code), and starts in a fraction of the time.


def add_commands(commands: argparse._SubParsersAction) -> None:
    kpi = commands.add_parser("kpi", help="apply KPI definitions, list them, show their values")
    sub = kpi.add_subparsers(dest="kpi_command", required=True)
    apply = sub.add_parser(
        "apply", help="create and change KPIs to match a YAML file (and remove those it omits with --prune)"
    )
    apply.add_argument("file", type=Path)
    apply.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    apply.add_argument(
        "--prune",
        action="store_true",
        help="also remove the KPIs in force that the file omits (without it they stay in force)",
    )
    sub.add_parser("list", help="the applied KPIs")
    show = sub.add_parser("show", help="a KPI's values per period")
    show.add_argument("name")
    show.add_argument("--from", dest="start", help="ISO date or time (default: 30 days ago)")
    show.add_argument("--to", dest="end", help="ISO date or time, exclusive (default: now)")
    show.add_argument("--grain", choices=[g.value for g in Grain], default="day")
    show.add_argument("--by", default="", help="break down by dimensions, e.g. region,channel")
    show.add_argument("--tz", help="time zone of the periods (default: OKRSTREAM_TIMEZONE or UTC)")
    show.add_argument("--format", choices=("table", "json", "csv"), default="table")


def run(settings: Settings, args: argparse.Namespace) -> int:
    backend = Backend(settings)
    try:
        if args.kpi_command == "apply":
            result = _apply(backend, args)
            print(("dry run, nothing changed: " if args.dry_run else "applied: ") + result["summary"])
        elif args.kpi_command == "list":
            _print_list(_list(backend))
        else:
            _print_series(_show(backend, args), args.format)
    except ConfigError as e:
        print(f"okrstream kpi: invalid definitions in {args.file}:", *e.errors, sep="\n  ", file=sys.stderr)
        return 2
    except (KeyError, ValueError) as e:
        print(f"okrstream kpi: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
        return 2
    return 0


def _apply(backend: Backend, args: argparse.Namespace) -> dict[str, Any]:
    text = args.file.read_text(encoding="utf-8")

    def on_store(store: Store) -> dict[str, Any]:
        from ..kpi import apply_kpis, plan_report, read_catalog
        from ..okr import kpi_readers
        from ..runtime import load_registry

        catalog = read_catalog(text, load_registry(backend.settings))
        with _BackfillBars() as bars:
            plan = apply_kpis(
                store,
                backend.settings,
                catalog,
                getpass.getuser(),
                args.dry_run,
                progress=bars,
                prune=args.prune,
                read_by=kpi_readers(store, backend.settings) if args.prune else None,
            )
        return plan_report(plan) | {"dry_run": args.dry_run, "prune": args.prune}

    call = ApiCall(f"/v1/kpis/apply{apply_query(args)}", text.encode(), {"X-Applied-By": getpass.getuser()})
    return backend.answer(call, on_store)


def _list(backend: Backend) -> list[dict[str, Any]]:
    def on_store(store: Store) -> dict[str, Any]:
        from ..kpi import kpi_listing

        return {"kpis": kpi_listing(store, backend.settings.clickhouse_database)}

    return backend.answer(ApiCall("/v1/kpis"), on_store)["kpis"]


def _show(backend: Backend, args: argparse.Namespace) -> dict[str, Any]:
    timezone = args.tz or backend.settings.timezone

    def on_store(store: Store) -> dict[str, Any]:
        from ..kpi import kpi_report, series_window

        start, end = series_window(args.start, args.end, timezone)
        by = tuple(key for key in args.by.split(",") if key)
        database = backend.settings.clickhouse_database
        return kpi_report(store, database, args.name, start, end, Grain(args.grain), timezone, by)

    params = {"from": args.start, "to": args.end, "grain": args.grain, "by": args.by, "tz": timezone}
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v})
    return backend.answer(ApiCall(f"/v1/kpis/{urllib.parse.quote(args.name)}?{query}"), on_store)


class _BackfillBars(contextlib.AbstractContextManager["_BackfillBars"]):
    """One progress bar per backfilled KPI, on stderr, counted in events."""

    def __init__(self) -> None:
        self._bars: dict[str, tqdm] = {}

    def __call__(self, kpi: str, done: int, total: int) -> None:
        bar = self._bars.get(kpi)
        if bar is None:
            bar = self._bars[kpi] = tqdm(total=total, desc=f"backfill {kpi}", unit=" events", file=sys.stderr)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    def __exit__(self, *exc: object) -> None:
        for bar in self._bars.values():
            bar.close()


def _print_list(kpis: list[dict[str, Any]]) -> None:
    for kpi in kpis:
        by = f"  by {', '.join(kpi['dimensions'])}" if kpi["dimensions"] else ""
        print(f"{kpi['name']:<24} {kpi['aggregation']:<15} {kpi['title']} ({kpi['unit'] or '-'}){by}")


def _print_series(report: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(report, indent=2))
        return
    by, zone, name = report["by"], ZoneInfo(report["timezone"]), report["kpi"]["name"]
    shown = None if fmt == "csv" else "%Y-%m-%d %H:%M %z"  # csv: ISO 8601
    points = report["points"]
    keys = [[_local(p["period"], zone, shown), *(p["group"].get(k, "") for k in by)] for p in points]
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(["period", *by, name, "previous", "year_ago", "health"])
        writer.writerows(
            [*key, p["value"], p["previous"], p["year_ago"], _verdict(p["healthy"], "")]
            for key, p in zip(keys, points, strict=True)
        )
        return
    unit = report["kpi"]["unit"]
    print(f"{report['kpi']['title']} ({unit or 'no unit'}), per {report['grain']}, {report['timezone']}")
    table = [["period", *by, name, "vs previous", "vs year ago", "health"]]
    table += [
        [
            *key,
            _number(p["value"]),
            _change(p["change"]),
            _change(p["year_change"]),
            _verdict(p["healthy"], ""),
        ]
        for key, p in zip(keys, points, strict=True)
    ]
    widths = [max(len(c) for c in column) for column in zip(*table, strict=True)]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    if report["health"] and report["health"]["band"]["grain"] != report["grain"]:
        band = report["health"]["band"]
        for period in report["health"]["periods"]:
            group = "".join(f" {k}={v}" for k, v in period["group"].items())
            local = _local(period["period"], zone, "%Y-%m-%d")
            verdict = _verdict(period["healthy"], "no value")
            print(f"health per {band['grain']} from {local}{group}: {_number(period['value'])} {verdict}")


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _verdict(healthy: bool | None, unjudged: str) -> str:
    return unjudged if healthy is None else "healthy" if healthy else "UNHEALTHY"


def _change(value: float | None) -> str:
    return "" if value is None else f"{value:+.1%}"


def _local(period: str, zone: ZoneInfo, shown: str | None) -> str:
    """A period's start in the report's time zone, where people read it."""
    local = datetime.fromisoformat(period).astimezone(zone)
    return local.isoformat() if shown is None else local.strftime(shown)
