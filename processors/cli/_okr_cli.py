"""`okrstream okr apply|status|show`: through the running process's API, or on the store directly."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import urllib.parse
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from schemas import AS_OF_TIMES, ConfigError, Settings, parse_instant

from ._backend import ApiCall, Backend, apply_query

if TYPE_CHECKING:
    from ..store import Store

# Each `on_store` imports what it runs: a command answered by the running process over its API
# never loads it (faust, chDB, the OKR code), and starts in a fraction of the time.

BAR = 20


def add_commands(commands: argparse._SubParsersAction) -> None:
    okr = commands.add_parser("okr", help="apply objectives and key results, show their scores")
    sub = okr.add_subparsers(dest="okr_command", required=True)
    apply = sub.add_parser(
        "apply",
        help="create and change objectives to match a YAML file (and remove those it omits with --prune)",
    )
    apply.add_argument("file", type=Path)
    apply.add_argument("--dry-run", action="store_true", help="show the plan and warnings, change nothing")
    apply.add_argument(
        "--prune",
        action="store_true",
        help="also remove the objectives in force that the file omits (without it they stay in force)",
    )
    status = sub.add_parser("status", help="objectives with their key results, progress and status")
    status.add_argument("--objective", metavar="ID", help="only this objective")
    status.add_argument(
        "--as-of", metavar="TIME", help="recompute from raw events as of an instant, e.g. 2026-10-15T12:00Z"
    )
    status.add_argument(
        "--by",
        choices=AS_OF_TIMES,
        default="landed",
        help="with --as-of: count events by when they landed (what was seen then, the default) "
        "or by when they occurred (what was true then, late events included)",
    )
    status.add_argument("--format", choices=("table", "json"), default="table")
    show = sub.add_parser("show", help="a key result's score and its history")
    show.add_argument("key_result", metavar="ID")
    show.add_argument("--format", choices=("table", "json"), default="table")


def run(settings: Settings, args: argparse.Namespace) -> int:
    backend = Backend(settings)
    try:
        if args.okr_command == "apply":
            result = _apply(backend, args)
            for warning in result["warnings"]:
                print(f"warning: {warning['path']}: {warning['message']}", file=sys.stderr)
            print(("dry run, nothing changed: " if args.dry_run else "applied: ") + result["summary"])
        elif args.okr_command == "status":
            report = _status(backend, args)
            if report.get("hint"):
                print(f"hint: {report['hint']}", file=sys.stderr)
            print(json.dumps(report, indent=2) if args.format == "json" else status_table(report))
        else:
            report = _show(backend, args)
            print(json.dumps(report, indent=2) if args.format == "json" else history_table(report))
    except ConfigError as e:
        print(f"okrstream okr: invalid definitions in {args.file}:", *e.errors, sep="\n  ", file=sys.stderr)
        return 2
    except (KeyError, ValueError) as e:
        print(f"okrstream okr: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
        return 2
    return 0


def _apply(backend: Backend, args: argparse.Namespace) -> dict[str, Any]:
    text = args.file.read_text(encoding="utf-8")
    settings = backend.settings

    def on_store(store: Store) -> dict[str, Any]:
        from ingest import ensure_topics

        from ..okr import OkrLog, apply_okrs, plan_report, read_okrs

        if not settings.kafka_bootstrap_servers:
            raise ValueError(
                "no broker to record definitions on: start `okrstream run` or set KAFKA_BOOTSTRAP_SERVERS"
            )
        ensure_topics(settings.kafka_bootstrap_servers, settings)
        okr_log = OkrLog(settings.kafka_bootstrap_servers, settings)
        try:
            catalog = read_okrs(text, store, settings.clickhouse_database)
            plan = apply_okrs(
                store, settings, okr_log, catalog, getpass.getuser(), args.dry_run, prune=args.prune
            )
        finally:
            okr_log.close()
        return plan_report(plan, catalog, args.dry_run, args.prune)

    path = f"/v1/objectives/apply{apply_query(args)}"
    call = ApiCall(path, text.encode(), {"X-Applied-By": getpass.getuser()})
    return backend.answer(call, on_store)


def _status(backend: Backend, args: argparse.Namespace) -> dict[str, Any]:
    as_of = parse_instant(args.as_of, "--as-of") if args.as_of else None
    path = f"/v1/objectives/{urllib.parse.quote(args.objective)}" if args.objective else "/v1/objectives"
    query = f"?{urllib.parse.urlencode({'as_of': args.as_of, 'by': args.by})}" if args.as_of else ""

    def on_store(store: Store) -> dict[str, Any]:
        from ..okr import okr_report

        return okr_report(store, backend.settings, args.objective, as_of, args.by)

    return backend.answer(ApiCall(path + query), on_store)


def _show(backend: Backend, args: argparse.Namespace) -> dict[str, Any]:
    def on_store(store: Store) -> dict[str, Any]:
        from ..okr import key_result_report

        return key_result_report(store, backend.settings, args.key_result)

    return backend.answer(ApiCall(f"/v1/key-results/{urllib.parse.quote(args.key_result)}"), on_store)


def bar(progress: float | None) -> str:
    """A progress bar of BAR cells: `[#######.............]  35%`."""
    if progress is None:
        return "[" + " " * BAR + "]    -"
    filled = round(BAR * max(0.0, min(1.0, progress)))
    return f"[{'#' * filled}{'.' * (BAR - filled)}] {progress:4.0%}"


def _when(at: str | None, zone: ZoneInfo) -> str:
    return "never" if not at else datetime.fromisoformat(at).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"


def status_table(report: dict[str, Any]) -> str:
    """Objectives (indented under their parents) and their key results, each with a progress bar."""
    zone = ZoneInfo(report["timezone"])
    lines = []
    if report["as_of"]:
        counted = "that occurred before then" if report.get("by") == "occurred" else "landed by then"
        lines.append(
            f"as of {report['as_of']}, recomputed from raw events {counted} "
            "(recorded: what the history held then)"
        )
    for period in report["periods"]:
        lines.append(f"period {period['period']}: score {_number(period['score'])}")
    depth: dict[str, int] = {}
    for o in report["objectives"]:
        depth[o["id"]] = depth.get(o["parent"], -1) + 1 if o["parent"] in depth else 0
        indent = "  " * depth[o["id"]]
        score = o.get("score") if o.get("scored") else None
        lines.append("")
        lines.append(f"{indent}{o['title']}  ({o['id']}, {o['owner']}, {o['period']}, {o['kind']})")
        short = "  WILL FALL SHORT" if o.get("falls_short") else ""
        lines.append(
            f"{indent}  {bar(score)}  expected {_pct(o.get('expected'))}  {o.get('status', 'not scored'):<18}"
            f"{short}  updated {_when(o.get('updated_at'), zone)}"
        )
        for kr in o["key_results"]:
            progress = kr.get("progress") if kr.get("scored") else None
            numbers = f"{_number(kr.get('value'))} of {_number(kr.get('target'))}" if kr.get("scored") else ""
            lines.append(
                f"{indent}  - {kr['title'][:48]:<48} {bar(progress)}  expected {_pct(kr.get('expected'))}"
                f"  {kr.get('status', 'not scored'):<18} {numbers}"
                + ("  falls short" if kr.get("falls_short") else "")
                + (f"  updated {_when(kr.get('updated_at'), zone)}" if kr.get("updated_at") else "")
            )
            recorded = kr.get("recorded")
            if recorded is not None:
                shown = (
                    f"{bar(recorded['progress'])} {recorded['status']}" if recorded.get("scored") else "none"
                )
                lines.append(f"{indent}    recorded then: {shown}")
    return "\n".join(lines)


def history_table(report: dict[str, Any]) -> str:
    kr = report["key_result"]
    lines = [f"{kr['title']} ({kr['id']}) in {report['objective']['title']}"]
    for row in report["history"]:
        lines.append(
            f"  {row['scored_at']}  {bar(row['progress'])}  {row['status']:<18}"
            f" value {_number(row['value'])}  expected {_pct(row['expected'])}  ({row['cause']})"
        )
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "   -" if value is None else f"{value:4.0%}"
