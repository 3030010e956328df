"""What the pipeline bench feeds a worker: a synthetic catalogue with precomputed vectors, and a shopper mix.

Catalogue: clustered unit vectors (topics with their own spread, like sentence embeddings; see
index/bench.py for why not uniform random vectors), one category per topic, published straight to
`item-vectors` with the worker's model version, so the bench measures the stream path, not the encoder.

Shoppers: each has one to three favourite topics; 80% of their item events fall in them, the rest on a
Zipf-popular head of the whole catalogue. Types: 75% view, 12% click, 5% add_to_cart, 3% purchase, 5%
search (a query from a vocabulary of 200, so repeated queries are common, as in a shop). "Light"
shoppers come with a short history, "loyal" ones with hundreds of past events.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from ..core.catalogue import ItemMeta
from ..core.vectors import VectorRecord, encode_record
from .traffic import Message

TYPES = ("view", "click", "add_to_cart", "purchase", "search")
TYPE_SHARES = (0.75, 0.12, 0.05, 0.03, 0.05)
TOPICS = 100
CATEGORIES = 50
QUERIES = 200
_ADJECTIVES = ("cheap", "best", "lightweight", "durable", "classic", "new", "compact", "premium")


@dataclass
class Catalogue:
    """Synthetic items: ids, their topic, and (until published) their vectors."""

    item_ids: list[str]
    topics: np.ndarray  # topic of each item
    by_topic: list[np.ndarray]  # item positions per topic
    popular: np.ndarray  # item positions, most popular first (the Zipf head)

    def category(self, position: int) -> str:
        """The category of the item at ``position``."""
        return f"category-{int(self.topics[position]) % CATEGORIES}"


def synthetic_catalogue(n: int, seed: int = 0) -> Catalogue:
    """``n`` item ids with a topic each (vectors come from :func:`vector_records`)."""
    rng = np.random.default_rng(seed)
    topics = rng.integers(TOPICS, size=n)
    by_topic = [np.flatnonzero(topics == t) for t in range(TOPICS)]
    return Catalogue([f"p{i}" for i in range(n)], topics, by_topic, rng.permutation(n))


def vector_records(catalogue: Catalogue, model_version: str, dim: int, seed: int = 0,
                   chunk: int = 5000) -> Iterator[tuple[str, bytes]]:
    """(item id, `item-vectors` record bytes) for every item: topic centre + in-topic spread + noise, unit length."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((TOPICS, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rank = 32
    bases = (rng.standard_normal((TOPICS, rank, dim)) / np.sqrt(dim)).astype(np.float32)
    n = len(catalogue.item_ids)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        part_rng = np.random.default_rng([seed, start])
        t = catalogue.topics[start:stop]
        z = part_rng.standard_normal((stop - start, 1, rank)).astype(np.float32) * 0.2
        x = centres[t] + (z @ bases[t])[:, 0, :]
        x += part_rng.standard_normal((stop - start, dim)).astype(np.float32) * (0.8 / np.sqrt(dim))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        for offset, vector in enumerate(x):
            position = start + offset
            item_id = catalogue.item_ids[position]
            meta = ItemMeta(item_id, f"Product {position}", catalogue.category(position), price=10.0 + position % 90)
            yield item_id, encode_record(VectorRecord(item_id, model_version, vector, meta))


class Shoppers:
    """Generates events of named shoppers over a catalogue, deterministically from a seed."""

    def __init__(self, catalogue: Catalogue, seed: int = 0) -> None:
        self.catalogue = catalogue
        self.rng = np.random.default_rng(seed)
        self._tastes: dict[str, np.ndarray] = {}
        self._serial = 0
        ranks = np.arange(1, len(catalogue.item_ids) + 1, dtype=np.float64)
        head = 1.0 / ranks
        self._zipf = np.cumsum(head / head.sum())
        self.queries = [f"{_ADJECTIVES[q % len(_ADJECTIVES)]} category-{q % CATEGORIES} product"
                        for q in range(QUERIES)]

    def events(self, users: Sequence[str], count: int, prefix: str) -> list[Message]:
        """``count`` events, each from a user drawn uniformly from ``users``."""
        picks = self.rng.integers(len(users), size=count)
        return [self.event(users[int(u)], prefix) for u in picks]

    def histories(self, users: Sequence[str], per_user: int, prefix: str) -> list[Message]:
        """``per_user`` events of every user, interleaved in random order."""
        order = np.repeat(np.arange(len(users)), per_user)
        self.rng.shuffle(order)
        return [self.event(users[int(u)], prefix) for u in order]

    def event(self, user: str, prefix: str) -> Message:
        """One event of ``user`` (an id unique within this generator, starting with ``prefix``)."""
        self._serial += 1
        event_id = f"{prefix}-{self._serial}"
        etype = TYPES[int(np.searchsorted(np.cumsum(TYPE_SHARES), self.rng.random()))]
        body = {"event_id": event_id, "user_id": user, "type": etype}
        if etype == "search":
            body["query"] = self.queries[int(self.rng.integers(QUERIES))]
        else:
            body["item_id"] = self.catalogue.item_ids[self._item(user)]
        return Message(user.encode(), json.dumps(body, separators=(",", ":")).encode(), event_id)

    def _item(self, user: str) -> int:
        tastes = self._tastes.get(user)
        if tastes is None:
            tastes = self._tastes[user] = self.rng.choice(TOPICS, size=int(self.rng.integers(1, 4)), replace=False)
        if self.rng.random() < 0.8:
            members = self.catalogue.by_topic[int(tastes[int(self.rng.integers(len(tastes)))])]
            if len(members):
                return int(members[int(self.rng.integers(len(members)))])
        rank = min(int(np.searchsorted(self._zipf, self.rng.random())), len(self._zipf) - 1)
        return int(self.catalogue.popular[rank])


def movielens_messages(dataset, limit: int | None = None) -> tuple[list[tuple[str, dict]], list[Message]]:
    """ML-100K as `items` messages (the worker embeds them) and time-ordered `view` events with their timestamps."""
    items = [(item.item_id, {"item_id": item.item_id, "title": item.title, "category": item.category,
                             "attributes": dict(item.attributes)}) for item in dataset.items]
    interactions = dataset.interactions if limit is None else dataset.interactions[:limit]
    events = []
    for inter in interactions:
        event_id = f"ml-{inter.row}"
        body = {"event_id": event_id, "user_id": f"ml-{inter.user_id}", "type": "view", "item_id": inter.item_id,
                "ts": inter.ts}
        events.append(Message(body["user_id"].encode(), json.dumps(body, separators=(",", ":")).encode(), event_id))
    return items, events
