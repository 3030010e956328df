"""A shop's merchandising rules: boost items or a category, pin an item at a position.

A rules file is JSON: ``{"rules": [{"name": "tents-week", "boost": 0.2, "category": "Tents"},
{"name": "hero", "pin": "p04001", "position": 1}, {"name": "house-brand", "boost": 0.1, "items": ["p1"]}]}``.
A boost adds to the score of the items it names (or of its category) and the list is re-sorted; a pin puts
an item the page's filter admits at its position (1 = first). Each leaves a reason on the item it touched
(``boosted`` with the rules' names, ``pinned`` with the rule and the position), so the reasons still add up
to the score and a page can tell a merchandised item from a ranked one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..errors import ImproperlyConfigured, read_json_file
from .catalogue import Catalogue
from .ranking import ListFilter, Reason, ReasonCode, ScoredItem

MAX_RULES = 1000


@dataclass(frozen=True)
class Rule:
    """One boost (``boost`` on ``items`` or ``category``) or one pin (``pin`` at ``position``)."""

    name: str
    boost: float = 0.0
    items: frozenset[str] = frozenset()
    category: str | None = None
    pin: str | None = None
    position: int = 1

    def boosts(self, item_id: str, category: str) -> bool:
        return self.boost != 0.0 and (item_id in self.items or (self.category is not None and category == self.category))


@dataclass(frozen=True)
class Rules:
    """The rules of one file, boosts and pins apart."""

    boosts: tuple[Rule, ...] = ()
    pins: tuple[Rule, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.boosts or self.pins)

    @classmethod
    def from_file(cls, path: Path) -> "Rules":
        """Read and check a rules file; a mistake is an ImproperlyConfigured naming the rule."""
        return cls.from_object(read_json_file(path, "rules"), str(path))

    @classmethod
    def from_object(cls, data: Any, source: str = "rules") -> "Rules":
        raw = data.get("rules") if isinstance(data, dict) else None
        if not isinstance(raw, list) or len(raw) > MAX_RULES:
            raise ImproperlyConfigured(f"{source}: expected {{\"rules\": [...]}} with at most {MAX_RULES} rules")
        boosts, pins = [], []
        for n, entry in enumerate(raw, 1):
            rule = _rule(entry, f"{source}: rule {n}")
            (pins if rule.pin is not None else boosts).append(rule)
        return cls(tuple(boosts), tuple(sorted(pins, key=lambda r: r.position)))

    def apply(self, items: Sequence[ScoredItem], catalogue: Catalogue, list_filter: ListFilter) -> list[ScoredItem]:
        """The list with the boosts added and re-sorted, then the pins placed."""
        out = list(items)
        if self.boosts:
            boosted = []
            for item in out:
                hits = [r for r in self.boosts if r.boosts(item.item_id, catalogue.category(item.item_id))]
                if hits:
                    amount = sum(r.boost for r in hits)
                    reason = Reason(ReasonCode.BOOSTED, amount, {"rules": [r.name for r in hits]})
                    item = item._replace(score=item.score + amount, reasons=(*item.reasons, reason))
                boosted.append(item)
            out = sorted(boosted, key=lambda i: -i.score)
        for rule in self.pins:
            if not list_filter.admits(rule.pin, catalogue):
                continue
            found = next((i for i in out if i.item_id == rule.pin), None)
            if found is not None:
                out.remove(found)
            else:
                found = ScoredItem(rule.pin, 0.0, ())
            reason = Reason(ReasonCode.PINNED, 0.0, {"rule": rule.name, "position": rule.position})
            out.insert(min(rule.position, len(out) + 1) - 1, found._replace(reasons=(reason, *found.reasons)))
        return out


def _rule(entry: Any, where: str) -> Rule:
    if not isinstance(entry, dict):
        raise ImproperlyConfigured(f"{where}: must be an object")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ImproperlyConfigured(f"{where}: needs a name")
    if "pin" in entry:
        pin, position = entry["pin"], entry.get("position", 1)
        if not isinstance(pin, str) or not pin or not isinstance(position, int) or isinstance(position, bool) or position < 1:
            raise ImproperlyConfigured(f"{where} ({name}): pin needs an item id and a position of at least 1")
        return Rule(name, pin=pin, position=position)
    boost, items, category = entry.get("boost"), entry.get("items", []), entry.get("category")
    if isinstance(boost, bool) or not isinstance(boost, (int, float)) or boost == 0:
        raise ImproperlyConfigured(f"{where} ({name}): needs a non-zero boost or a pin")
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items) or \
            (category is not None and not isinstance(category, str)) or (not items and category is None):
        raise ImproperlyConfigured(f"{where} ({name}): a boost names items (a list of ids) or a category")
    return Rule(name, boost=float(boost), items=frozenset(items), category=category)
