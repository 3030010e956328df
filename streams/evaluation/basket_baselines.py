"""The four baselines of the next-basket protocol, over one shared purchase state (arrays over the catalogue).

* ``popularity`` — purchase lines counted with a 30-day half-life; for *new*, the customer's items excluded;
* ``item-knn`` — cosine on binary customer-item co-occurrence, summed over the customer's last 20 distinct
  items with decay 0.9 per step back (an item is not its own neighbour; for *new*, the customer's items excluded);
* ``personal-frequency`` — the customer's own most-bought items (*all* only; ties: the most recent first);
* ``title-tfidf`` — the item-kNN sum over the TF-IDF cosine of the product titles.
Only items sold before the list is published are ranked (an item enters the catalogue when first sold).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .retail import Line

POPULARITY = "popularity"
ITEM_KNN = "item-knn"
PERSONAL = "personal-frequency"
TFIDF = "title-tfidf"
BASELINES = (POPULARITY, ITEM_KNN, PERSONAL, TFIDF)


class PurchaseState:
    """What every baseline reads: sold items, decayed popularity, co-occurrence, each customer's items."""

    def __init__(self, item_ids: Sequence[str], half_life_days: float = 30.0, last: int = 20, decay: float = 0.9) -> None:
        self.item_ids = list(item_ids)
        self.position = {item: n for n, item in enumerate(self.item_ids)}
        n = len(self.item_ids)
        self.sold = np.zeros(n, dtype=bool)
        self.popularity = np.zeros(n, dtype=np.float64)  # Σ 2^((t - t0) / half-life): ranks as a decayed count
        self.co = np.zeros((n, n), dtype=np.float32)  # customers who bought both
        self.buyers = np.zeros(n, dtype=np.float64)  # customers who bought the item
        self.counts: dict[str, dict[int, int]] = {}  # customer → item → lines, in order of the latest purchase
        self.half_life = half_life_days * 86_400.0
        self.last, self.decay = last, decay
        self.t0: float | None = None
        self.row = -1

    def learn(self, line: Line) -> None:
        """Fold one line in (once, however many baselines share the state)."""
        if line.row == self.row:
            return
        self.row = line.row
        pos = self.position[line.item_id]
        self.t0 = line.ts if self.t0 is None else self.t0
        self.sold[pos] = True
        self.popularity[pos] += 2.0 ** ((line.ts - self.t0) / self.half_life)
        own = self.counts.setdefault(line.customer, {})
        if pos not in own:
            earlier = np.fromiter(own, dtype=np.int64, count=len(own))
            self.co[pos, earlier] += 1.0
            self.co[earlier, pos] += 1.0
            self.buyers[pos] += 1.0
        own[pos] = own.pop(pos, 0) + 1  # re-inserted: the dict keeps the latest purchase last

    def recent(self, customer: str) -> tuple[np.ndarray, np.ndarray]:
        """The customer's last distinct items (most recent first) and their weights decay^step."""
        own = list(self.counts.get(customer, {}))[::-1][: self.last]
        return np.asarray(own, dtype=np.int64), self.decay ** np.arange(len(own))

    def top(self, scores: np.ndarray, k: int, exclude: Sequence[int] = ()) -> list[str]:
        """The k best sold items with a positive score (ties: order of first sale)."""
        scores = np.where(self.sold, scores, -np.inf)
        if len(exclude):
            scores[np.asarray(exclude, dtype=np.int64)] = -np.inf
        best = np.argsort(-scores, kind="stable")[:k]
        return [self.item_ids[i] for i in best if scores[i] > 0]


class _Baseline:
    name = ""

    def __init__(self, state: PurchaseState) -> None:
        self.state = state

    def learn(self, line: Line) -> None:
        self.state.learn(line)


class Popularity(_Baseline):
    name = POPULARITY

    def publish(self, customer: str, ts: float, k: int) -> dict[str, list[str]]:
        s = self.state
        return {"all": s.top(s.popularity, k), "new": s.top(s.popularity, k, list(s.counts.get(customer, {})))}


class Personal(_Baseline):
    name = PERSONAL

    def publish(self, customer: str, ts: float, k: int) -> dict[str, list[str] | None]:
        own = list(self.state.counts.get(customer, {}).items())[::-1]  # most recent first: it wins ties
        own.sort(key=lambda kv: -kv[1])  # stable
        return {"all": [self.state.item_ids[i] for i, _ in own[:k]], "new": None}


class _Neighbours(_Baseline):
    """Σ over the customer's recent items (decayed) of a similarity row; their own items excluded."""

    def similarity(self, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def publish(self, customer: str, ts: float, k: int) -> dict[str, list[str]]:
        s = self.state
        recent, weights = s.recent(customer)
        if not len(recent):
            return {"all": [], "new": []}
        sim = self.similarity(recent)
        sim[np.arange(len(recent)), recent] = 0.0  # an item is not its own neighbour
        scores = weights @ sim
        return {"all": s.top(scores, k), "new": s.top(scores, k, list(s.counts[customer]))}


class ItemKNN(_Neighbours):
    name = ITEM_KNN

    def similarity(self, rows: np.ndarray) -> np.ndarray:
        norms = np.sqrt(self.state.buyers)
        safe = np.where(norms > 0, norms, 1.0)
        return self.state.co[rows] / safe[rows, None] / safe[None, :]


class TitleTfidf(_Neighbours):
    name = TFIDF

    def __init__(self, state: PurchaseState, titles: Sequence[str]) -> None:
        super().__init__(state)
        from sklearn.feature_extraction.text import TfidfVectorizer

        matrix = TfidfVectorizer().fit_transform([t.lower() for t in titles])  # rows are L2-normalised
        self.sim = (matrix @ matrix.T).toarray().astype(np.float32)

    def similarity(self, rows: np.ndarray) -> np.ndarray:
        return self.sim[rows].copy()


def build_baselines(item_ids: Sequence[str], titles: Sequence[str], names: Sequence[str] = BASELINES) -> list:
    """The named baselines over one shared state (table order)."""
    state = PurchaseState(item_ids)
    make = {POPULARITY: lambda: Popularity(state), ITEM_KNN: lambda: ItemKNN(state),
            PERSONAL: lambda: Personal(state), TFIDF: lambda: TitleTfidf(state, titles)}
    return [make[name]() for name in BASELINES if name in names]
