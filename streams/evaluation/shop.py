"""A shop's own catalogue and event log (wire-contract JSON lines or CSV) as a Dataset the replay runs like MovieLens."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from ..core.ingest import wire_event
from ..core.lines import file_format, messages
from ..core.records import DEFAULT_EVENT_WEIGHTS, SEARCH, load_json, parse_item
from ..errors import ImproperlyConfigured, InvalidMessage
from .data import Dataset, Interaction


@dataclass
class LoadReport:
    """What was left out of the replay, and why (nothing is dropped silently)."""

    items: int = 0
    events: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason → records

    def lines(self) -> list[str]:
        """Human-readable lines for the CLI."""
        out = [f"{self.items:,} items, {self.events:,} events replayable"]
        out += [f"skipped {n:,} records: {reason}" for reason, n in self.skipped.most_common()]
        return out


def load_shop(items_path: Path, events_path: Path, types: Mapping[str, float] = DEFAULT_EVENT_WEIGHTS,
              name: str | None = None) -> tuple[Dataset, LoadReport]:
    """Items and events of a shop, events in time order (ties in file order), ready for ``replay``.

    Events need ts and an item the catalogue knows; searches are left out (the replay scores each list
    against the user's next item); duplicates (same event_id) count once.
    """
    report = LoadReport()
    items = {}
    for path in (items_path, events_path):
        if not Path(path).is_file():
            raise ImproperlyConfigured(f"no such file: {path}")
    with open(items_path, "rb") as handle:
        for line, (key, value) in enumerate(messages(handle, file_format(str(items_path)), "item_id"), start=1):
            try:
                item = parse_item(key, value)
            except InvalidMessage as exc:
                report.skipped[f"item {exc.reason}"] += 1
                continue
            if item.deleted:
                items.pop(item.item_id, None)
            else:
                items[item.item_id] = item  # a later line for the same id replaces it, as on the topic
    interactions: list[Interaction] = []
    seen: set[str] = set()
    with open(events_path, "rb") as handle:
        for row, (key, value) in enumerate(messages(handle, file_format(str(events_path)), "user_id")):
            try:
                event = wire_event(load_json(value), types=types, require_ts=True).event
            except InvalidMessage as exc:
                report.skipped[f"event {exc.reason}"] += 1
                continue
            if event.event_id in seen:
                report.skipped["event duplicate event_id"] += 1
                continue
            seen.add(event.event_id)
            if event.type == SEARCH:
                report.skipped["event search (no item to predict)"] += 1
                continue
            if event.item_id not in items:
                report.skipped["event item not in the catalogue"] += 1
                continue
            interactions.append(Interaction(event.user_id, event.item_id, 0.0, event.ts, row, event))
    if not items:
        raise ImproperlyConfigured(f"{items_path} holds no usable item")
    if not interactions:
        raise ImproperlyConfigured(f"{events_path} holds no replayable event (they need ts, user_id, type and a known item_id)")
    interactions.sort(key=lambda i: i.ts)
    report.items, report.events = len(items), len(interactions)
    return Dataset(tuple(items.values()), tuple(interactions), name or Path(events_path).stem), report
