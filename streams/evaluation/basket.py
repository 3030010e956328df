"""Next-basket replay: every method learns the purchase lines in time order and is scored on the next invoice.

The protocol of the Online Retail data set's README: each customer's invoices except the first are scoring
points; the list that counts is the customer's list as it stands just before the invoice's first line (built
from everything before it: what the shop shows when the customer arrives), scored against the invoice's distinct items — *new* (the
ones the customer never bought before; points with none are skipped) and *all* (buy-again counts).
Recall@k = hits / min(k, relevant); NDCG@k with binary gains; HR@k = at least one hit. Averages over points,
the per-customer (macro) average, and a 95% bootstrap interval over customers.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Protocol, Sequence

import numpy as np

from .retail import Line

TARGETS = ("new", "all")
METRICS = ("ndcg", "recall", "hr")


@dataclass(frozen=True)
class Invoice:
    """One basket: its lines (indices into the log) and distinct items, in order of first line."""

    invoice: str
    customer: str
    ts: float
    lines: tuple[int, ...]
    items: tuple[str, ...]


def invoices_of(lines: Sequence[Line]) -> list[Invoice]:
    """The log's invoices in order of their first line (lines are already in time order)."""
    grouped: dict[str, list[int]] = {}
    for n, line in enumerate(lines):
        grouped.setdefault(line.invoice, []).append(n)
    out = []
    for invoice, rows in grouped.items():
        first = lines[rows[0]]
        out.append(Invoice(invoice, first.customer, first.ts, tuple(rows),
                           tuple(dict.fromkeys(lines[r].item_id for r in rows))))
    return out


def day(text: str) -> float:
    """A YYYY-MM-DD date as a UTC timestamp."""
    return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp()


@dataclass(frozen=True)
class Period:
    """The invoices that are scored (everything before only feeds the replay)."""

    start: str = "2011-06-01"
    end: str = "2011-08-31"  # inclusive

    def __contains__(self, ts: float) -> bool:
        return day(self.start) <= ts < day(self.end) + 86_400


class BasketMethod(Protocol):
    """Anything the basket replay feeds: lines to learn, and each customer's list(s) when asked."""

    name: str

    def learn(self, line: Line) -> None:
        """Fold one purchase line in."""

    def publish(self, customer: str, ts: float, k: int) -> dict[str, list[str]]:
        """The customer's list right now, per target (a method with one list gives it for both)."""


def score(items: Sequence[str], relevant: set[str], k: int) -> tuple[float, float, float]:
    """(NDCG@k, Recall@k, HR@k) of one list against a set of relevant items (binary gains)."""
    hits = [rank for rank, item in enumerate(items[:k]) if item in relevant]
    ideal = min(k, len(relevant))
    if not ideal:
        return 0.0, 0.0, 0.0
    dcg = sum(1.0 / np.log2(rank + 2) for rank in hits)
    idcg = sum(1.0 / np.log2(rank + 2) for rank in range(ideal))
    return dcg / idcg, len(hits) / ideal, float(bool(hits))


@dataclass
class Scores:
    """One method on one target: a row per scoring point."""

    customer: list[str] = field(default_factory=list)
    values: list[tuple[float, float, float]] = field(default_factory=list)  # METRICS order
    shown: list[list[str]] = field(default_factory=list)

    def add(self, customer: str, items: list[str], relevant: set[str], k: int) -> None:
        self.customer.append(customer)
        self.values.append(score(items, relevant, k))
        self.shown.append(items[:k])

    def summary(self, draws: int = 1000, seed: int = 0) -> dict[str, dict[str, float]]:
        """Per metric: mean over points, macro (per-customer) mean, and the bootstrap interval over customers."""
        if not self.values:
            return {m: {"mean": float("nan"), "macro": float("nan"), "low": float("nan"), "high": float("nan")}
                    for m in METRICS}
        values = np.asarray(self.values)
        _, who = np.unique(np.asarray(self.customer), return_inverse=True)
        customers = who.max() + 1
        counts = np.bincount(who, minlength=customers).astype(np.float64)
        rng = np.random.default_rng(seed)
        # a draw resamples customers with replacement: weights = how often each customer was drawn
        weights = np.stack([np.bincount(rng.integers(0, customers, customers), minlength=customers)
                            for _ in range(draws)]).astype(np.float64)
        out = {}
        for m, name in enumerate(METRICS):
            sums = np.bincount(who, weights=values[:, m], minlength=customers)
            boot = (weights @ sums) / (weights @ counts)
            out[name] = {"mean": float(values[:, m].mean()), "macro": float((sums / counts).mean()),
                         "low": float(np.percentile(boot, 2.5)), "high": float(np.percentile(boot, 97.5))}
        return out


@dataclass
class BasketResult:
    """Everything one basket replay measured."""

    methods: list[str]
    scores: dict[tuple[str, str], Scores]  # (method, target) → rows
    points: dict[str, int]  # target → scoring points
    lines: int
    seconds: float
    new_products: dict[str, dict[str, float]] = field(default_factory=dict)  # method → new-product figures
    ndcg_by_week: dict[tuple[str, str], list[tuple[float, float]]] = field(default_factory=dict)


def replay_baskets(lines: Sequence[Line], methods: Sequence[BasketMethod], period: Period = Period(), k: int = 10,
                   on_progress: Callable[[int, int], None] | None = None, new_days: float = 30.0) -> BasketResult:
    """Feed every method the lines in order; at each scored invoice's first line, score each method's list."""
    started = time.monotonic()
    invoices = invoices_of(lines)
    bought: dict[str, set[str]] = {}
    first_sold: dict[str, float] = {}
    scores = {(m.name, t): Scores() for m in methods for t in TARGETS}
    points = dict.fromkeys(TARGETS, 0)
    fresh = {m.name: {"lists": 0, "showing": 0, "relevant": 0, "hits": 0} for m in methods}
    done = 0
    for inv in invoices:
        if inv.customer in bought and inv.ts in period:
            # the list as it stands just before the invoice's first line: built from everything before it
            lists = {m.name: _targets(m.publish(inv.customer, inv.ts, k)) for m in methods}
            own = bought.get(inv.customer, set())
            relevant = {"all": set(inv.items), "new": set(inv.items) - own}
            recent = {i for i, t in first_sold.items() if inv.ts - t <= new_days * 86_400}
            for target in TARGETS:
                if relevant[target]:
                    points[target] += 1
                    for m in methods:
                        if lists[m.name][target] is not None:  # None: the method has no list for this target
                            scores[(m.name, target)].add(inv.customer, lists[m.name][target], relevant[target], k)
            for m in methods:
                if lists[m.name]["all"] is not None:
                    _count_new(fresh[m.name], lists[m.name]["all"][:k], recent, relevant["all"])
        for row in inv.lines:
            line = lines[row]
            first_sold.setdefault(line.item_id, line.ts)
            for m in methods:
                m.learn(line)
        bought.setdefault(inv.customer, set()).update(inv.items)
        done += len(inv.lines)
        if on_progress is not None:
            on_progress(done, len(lines))
    return BasketResult([m.name for m in methods], scores, points, len(lines), time.monotonic() - started,
                        {name: _rates(f) for name, f in fresh.items() if f["lists"]})


def _targets(published: dict[str, list[str] | None]) -> dict[str, list[str] | None]:
    """Both targets' lists; a method that gives one list for "all" only is not scored on "new"."""
    return {"all": published["all"], "new": published.get("new", published["all"])}


def _count_new(acc: dict[str, float], shown: list[str], recent: set[str], relevant: set[str]) -> None:
    """New products (first sold within the last days): lists that show one; hits among the ones bought."""
    acc["lists"] += 1
    shown_new = [i for i in shown if i in recent]
    acc["showing"] += bool(shown_new)
    wanted = relevant & recent
    acc["relevant"] += len(wanted)
    acc["hits"] += len(wanted & set(shown_new))


def _rates(acc: dict[str, float]) -> dict[str, float]:
    lists, relevant = acc["lists"] or 1, acc["relevant"] or 1
    return {**acc, "share_showing": acc["showing"] / lists, "hit_rate": acc["hits"] / relevant}
