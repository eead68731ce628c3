"""The files a deployment configures: event types, mappings and subscriptions (or what ships).

Apart from the roles' wiring, so that a command that only validates (`okrstream ingest`) reads
them without loading faust, FastAPI or the store.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from schemas import EventTypeRegistry, MappingCatalog, Settings, SubscriptionCatalog


def load_registry(settings: Settings) -> EventTypeRegistry:
    """Per-type schemas from the configured file, else the demo types shipped with okrstream."""
    if settings.event_types_file:
        text = Path(settings.event_types_file).read_text(encoding="utf-8")
    else:
        text = resources.files("schemas").joinpath("event_types.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    data["unknown_types"] = data.get("unknown_types") or settings.unknown_types.value
    if settings.unknown_types.value == "reject":
        data["unknown_types"] = "reject"  # the setting can only tighten what the file says
    return EventTypeRegistry.from_mapping(data)


def load_mappings(settings: Settings) -> MappingCatalog:
    """Declarative mappings from the configured file, else the examples shipped with okrstream."""
    if settings.mappings_file:
        text = Path(settings.mappings_file).read_text(encoding="utf-8")
    else:
        text = resources.files("schemas").joinpath("mappings.yaml").read_text(encoding="utf-8")
    return MappingCatalog.from_mapping(yaml.safe_load(text) or {})


def load_subscriptions(settings: Settings, mappings: MappingCatalog) -> SubscriptionCatalog:
    """The foreign topics the workers read: OKRSTREAM_SUBSCRIPTIONS_FILE, else none."""
    if not settings.subscriptions_file:
        return SubscriptionCatalog()
    text = Path(settings.subscriptions_file).read_text(encoding="utf-8")
    own = (
        settings.raw_topic,
        settings.dead_letter_topic,
        settings.okr_touch_topic,
        settings.okr_score_topic,
        settings.okr_definition_topic,
    )
    return SubscriptionCatalog.from_mapping(yaml.safe_load(text) or {}, mappings, reserved_topics=own)
