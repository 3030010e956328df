"""Rank candidates for one profile: features → weighted score → filters → MMR, with exact contributions.

Score(c) = Σ_f w_f · f(c) over the features below. Content and collaborative features are sums over the
user's interactions, so each splits exactly into one contribution per interaction; those contributions,
times the feature's weight, are the reasons an item carries, and they add up to its score.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from index.base import Hit, VectorIndex

from .catalogue import Catalogue
from .decay import decay_factor
from .profiles import Profile
from .signals import ItemSignals

FEATURES = ("content", "collab", "popularity", "category", "freshness")
_DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "default.json"
_MAX_REASONS = 5  # reasons listed per item; the remainder is folded into one "other" reason


@dataclass(frozen=True)
class RankingWeights:
    """One weight per feature (the blend fitted by `streamrec eval --fit`)."""

    content: float = 1.0
    collab: float = 1.0
    popularity: float = 0.15
    category: float = 0.1
    freshness: float = 0.05

    def as_array(self) -> np.ndarray:
        """Weights in FEATURES order."""
        return np.array([getattr(self, f) for f in FEATURES], dtype=np.float64)

    @classmethod
    def from_file(cls, path: Path = _DEFAULT_WEIGHTS) -> "RankingWeights":
        """Load weights saved as {"weights": {feature: value}}; the packaged defaults when none given."""
        data = json.loads(Path(path).read_text())
        return cls(**{f: float(v) for f, v in data["weights"].items() if f in FEATURES})

    @classmethod
    def default(cls) -> "RankingWeights":
        """The packaged fitted weights, or the hand-set ones if no fit was shipped."""
        return cls.from_file() if _DEFAULT_WEIGHTS.exists() else cls()


@dataclass(frozen=True)
class RankingOptions:
    """How lists are built."""

    k: int = 10
    content_candidates: int = 100  # FAISS hits per profile, before filtering
    collab_window: int = 10  # recent items whose co-occurrence neighbours become candidates
    trending_candidates: int = 50
    mmr_lambda: float = 0.85  # 1.0 = pure relevance; lower trades relevance for diversity
    # Brand-new items have no collaborative or popularity signal, so a blend fitted on interactions
    # never lets them in; this many last slots go to the best-scored candidates nobody has touched yet.
    new_item_slots: int = 1
    exclude_seen: bool = True
    half_life_seconds: float = 7 * 86400.0  # profile decay (must match the profile updates)
    freshness_half_life_seconds: float = 3 * 86400.0
    weights: RankingWeights = field(default_factory=RankingWeights.default)


@dataclass(frozen=True)
class Reason:
    """One additive contribution to an item's score, with its evidence."""

    code: str
    weight: float
    evidence: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Wire form: {code, weight, **evidence}."""
        return {"code": self.code, "weight": round(self.weight, 6), **self.evidence}


@dataclass(frozen=True)
class ScoredItem:
    """A recommended item: its score and the reasons that sum to it."""

    item_id: str
    score: float
    reasons: tuple[Reason, ...]
    features: tuple[float, ...] = ()


@dataclass
class _Basis:
    """The profile's parts that candidates are compared with (computed once per profile)."""

    query: np.ndarray | None  # normalised profile vector
    norm: float
    labels: list[dict[str, Any]]  # one per content basis vector: what the user did
    vectors: np.ndarray | None  # [J, dim]
    weights: np.ndarray  # a_j
    recent: list[tuple[str, float, dict[str, Any]]]  # collab: (item_id, b_i, label)
    groups: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # label → distinct interaction
    group_labels: list[dict[str, Any]] = field(default_factory=list)  # one label per distinct interaction
    group_first: list[int] = field(default_factory=list)  # first label index of each group


class Ranker:
    """Scores, filters and diversifies candidates for a profile, over one index, catalogue and signals."""

    def __init__(self, index: VectorIndex, catalogue: Catalogue, signals: ItemSignals, options: RankingOptions) -> None:
        self.index = index
        self.catalogue = catalogue
        self.signals = signals
        self.options = options

    # ---- candidates -------------------------------------------------------------------------
    def candidates(self, profile: Profile, hits: Sequence[Hit], neighbours: dict[str, dict[str, float]] | None = None) -> list[str]:
        """FAISS hits ∪ co-occurrence neighbours of recent items ∪ trending, filtered, deduplicated.

        ``neighbours`` may carry the recent items' neighbour maps already computed for this profile.
        """
        seen = set(profile.seen) if self.options.exclude_seen else set()
        pool: dict[str, None] = {}
        for hit in hits:
            pool[hit.item_id] = None
        if neighbours is None:
            neighbours = self._neighbours(profile)
        for row in neighbours.values():
            pool.update(dict.fromkeys(row))
        for item_id, _ in self.signals.trending(self.options.trending_candidates + len(seen)):
            pool[item_id] = None
        if len(pool) < self.options.k:  # a shop with no traffic yet: newest catalogue items
            for item_id in sorted(self.signals.first_seen, key=self.signals.first_seen.get, reverse=True)[: 5 * self.options.k]:
                pool[item_id] = None
        return [i for i in pool if i not in seen and self.catalogue.recommendable(i) and i in self.index]

    # ---- features ---------------------------------------------------------------------------
    def feature_matrix(self, profile: Profile, item_ids: Sequence[str]) -> np.ndarray:
        """Feature values [n, len(FEATURES)] of these items for this profile (for scoring and fitting)."""
        if not item_ids:
            return np.zeros((0, len(FEATURES)))
        basis = self._basis(profile)
        vectors = self.index.vectors(item_ids)
        return self._features(profile, basis, item_ids, vectors, self._neighbours(profile))[0]

    def rank(self, profile: Profile, hits: Sequence[Hit]) -> list[ScoredItem]:
        """The top-k list for a profile, given its FAISS hits."""
        # neighbour maps are computed once per profile: candidates and collab features both need them
        neighbours = self._neighbours(profile)
        item_ids = self.candidates(profile, hits, neighbours)
        if not item_ids:
            return []
        basis = self._basis(profile)
        vectors = self.index.vectors(item_ids)
        weights = self.options.weights.as_array()
        feats, collab_parts = self._features(profile, basis, item_ids, vectors, neighbours, weights)
        scores = feats @ weights
        order = self._with_new_items(self._mmr(scores, vectors), scores, item_ids)
        # per-interaction content parts only for the listed items: they are what the reasons need
        if basis.vectors is not None and order:
            sims = vectors[order] @ basis.vectors.T
            content_parts = sims * (basis.weights / basis.norm) if basis.norm > 0 else np.zeros_like(sims)
        else:
            sims = content_parts = np.zeros((len(order), 0))
        return [
            ScoredItem(
                item_id=item_ids[i],
                score=float(scores[i]),
                reasons=self._reasons(item_ids[i], feats[i], weights, basis, content_parts[row], collab_parts[i], sims[row]),
                features=tuple(float(x) for x in feats[i]),
            )
            for row, i in enumerate(order)
        ]

    def recent_items(self, profile: Profile) -> list[str]:
        """The user's distinct recent item ids, most recent first (the collaborative window)."""
        out: list[str] = []
        for touch in reversed(profile.history):
            if touch.item_id and touch.item_id not in out:
                out.append(touch.item_id)
                if len(out) == self.options.collab_window:
                    break
        return out

    # ---- internals --------------------------------------------------------------------------
    def _basis(self, profile: Profile) -> _Basis:
        now = profile.updated_at
        a = profile.touch_weights(now, self.options.half_life_seconds)
        labels: list[dict[str, Any]] = []
        vecs: list[np.ndarray] = []
        weights: list[float] = []
        known = [t.item_id for t in profile.history if t.item_id and t.item_id in self.index]
        item_vecs = dict(zip(known, self.index.vectors(known))) if known else {}
        for touch, aj in zip(profile.history, a):
            if touch.weight <= 0:
                continue
            if touch.query is not None and touch.query in profile.query_vectors:
                vecs.append(np.asarray(profile.query_vectors[touch.query], dtype=np.float32))
                labels.append({"code": "matches_search", "query": touch.query})
            elif touch.item_id in item_vecs:
                vecs.append(item_vecs[touch.item_id])
                labels.append({"code": "similar_to_item", "item_id": touch.item_id, "event_type": touch.type})
            else:
                continue
            weights.append(aj)
        query = profile.query_vector()
        norm = float(np.linalg.norm(profile.vector)) if query is not None else 0.0
        recent_ids = self.recent_items(profile)
        decayed = {}
        for touch, aj in zip(profile.history, a):
            if touch.item_id in recent_ids:
                decayed[touch.item_id] = decayed.get(touch.item_id, 0.0) + max(aj, 1e-9)
        total = sum(decayed.values()) or 1.0
        recent = [(i, decayed[i] / total, {"item_id": i}) for i in recent_ids]
        group_of: dict[tuple, int] = {}
        groups: list[int] = []
        group_labels: list[dict[str, Any]] = []
        group_first: list[int] = []
        for j, label in enumerate(labels):
            key = (label["code"], label.get("item_id"), label.get("query"))
            if key not in group_of:
                group_of[key] = len(group_labels)
                group_labels.append(label)
                group_first.append(j)
            groups.append(group_of[key])
        return _Basis(
            groups=np.asarray(groups, dtype=np.int64),
            group_labels=group_labels,
            group_first=group_first,
            query=query,
            norm=norm,
            labels=labels,
            vectors=np.stack(vecs) if vecs else None,
            weights=np.asarray(weights, dtype=np.float32),
            recent=recent,
        )

    def _neighbours(self, profile: Profile) -> dict[str, dict[str, float]]:
        """Recent item → its co-occurrence neighbours with cosine similarity."""
        return {item_id: self.signals.neighbours(item_id) for item_id in self.recent_items(profile)}

    def _features(self, profile: Profile, basis: _Basis, item_ids: Sequence[str], vectors: np.ndarray,
                  neighbours: dict[str, dict[str, float]], weights: np.ndarray | None = None):
        """Feature matrix and the per-recent-item parts of collab; a feature whose weight
        is 0 is left at 0 (it cannot move the score, and skipping it keeps content-only ranking cheap)."""
        n = len(item_ids)
        need = np.ones(len(FEATURES), dtype=bool) if weights is None else weights != 0
        feats = np.zeros((n, len(FEATURES)))
        if basis.query is not None and need[0]:
            feats[:, 0] = vectors @ basis.query
        collab_parts = np.zeros((n, len(basis.recent)))
        if basis.recent and need[1]:
            # walk each recent item's neighbours (≤ max_neighbours) rather than every candidate
            position = {item_id: row for row, item_id in enumerate(item_ids)}
            for j, (recent_id, b, _) in enumerate(basis.recent):
                for other, sim in neighbours.get(recent_id, {}).items():
                    row = position.get(other)
                    if row is not None:
                        collab_parts[row, j] = b * sim
            feats[:, 1] = collab_parts.sum(axis=1)
        if need[2]:
            feats[:, 2] = self.signals.popularity_scores(item_ids)
        total_affinity = sum(profile.categories.values())
        if total_affinity > 0 and need[3]:
            cats = profile.categories
            category = self.catalogue.category
            feats[:, 3] = [cats.get(category(i), 0.0) / total_affinity for i in item_ids]
        if need[4]:
            now = max(profile.updated_at, self.signals.popularity.clock)
            first_seen = self.signals.first_seen
            fresh_hl = self.options.freshness_half_life_seconds
            feats[:, 4] = [decay_factor(now - first_seen[i], fresh_hl) if i in first_seen else 0.0 for i in item_ids]
        return feats, collab_parts

    def _mmr(self, scores: np.ndarray, vectors: np.ndarray) -> list[int]:
        """Greedy maximal marginal relevance over the best candidates."""
        k = min(self.options.k, len(scores))
        lam = self.options.mmr_lambda
        pool = list(np.argsort(-scores, kind="stable")[: max(3 * k, k)])
        if lam >= 1.0:
            return [int(i) for i in pool[:k]]
        sims = vectors[pool] @ vectors[pool].T
        chosen: list[int] = []
        max_sim = np.full(len(pool), -np.inf)
        for _ in range(k):
            mmr = lam * scores[pool] - (1 - lam) * np.where(np.isinf(max_sim), 0.0, max_sim)
            mmr[chosen] = -np.inf
            best = int(np.argmax(mmr))
            chosen.append(best)
            max_sim = np.maximum(max_sim, sims[best])
        return [int(pool[i]) for i in chosen]

    def _with_new_items(self, order: list[int], scores: np.ndarray, item_ids: Sequence[str]) -> list[int]:
        """Give the last ``new_item_slots`` places to untouched items when the list has none of them."""
        slots = min(self.options.new_item_slots, len(order))
        if slots <= 0:
            return order
        is_new = self.signals.popularity.get_many(item_ids) <= 0
        shown_new = sum(1 for i in order if is_new[i])
        if shown_new >= slots:
            return order
        chosen = set(order)
        fresh = [int(i) for i in np.argsort(-scores, kind="stable") if is_new[i] and int(i) not in chosen]
        fresh = fresh[: slots - shown_new]
        if not fresh:
            return order
        # keep the relevance order of the rest; the new items take the tail (they carry their own score)
        keep = [i for i in order if is_new[i]]
        warm = [i for i in order if not is_new[i]][: len(order) - len(keep) - len(fresh)]
        return warm + keep + fresh

    def _reasons(self, item_id, feats, weights, basis: _Basis, content_row, collab_row, similarities=None) -> tuple[Reason, ...]:
        reasons: list[Reason] = []
        w_content, w_collab, w_pop, w_cat, w_fresh = weights
        dropped_weight, dropped_count = 0.0, 0
        if feats[0] and w_content:
            # one part per distinct interaction (an item touched twice is one reason), summed with bincount
            parts = np.bincount(basis.groups, weights=content_row, minlength=len(basis.group_labels))
            explained = float(parts.sum())
            # only the strongest parts can be listed (the rest fold into "other"), so only they get a
            # Reason object; this keeps explanation cost flat in the history length
            top = np.argsort(-np.abs(parts), kind="stable")[:_MAX_REASONS]
            keep = np.zeros(len(parts), dtype=bool)
            keep[top] = True
            for g in top:
                label = basis.group_labels[g]
                code = label["code"]
                evidence = {k: v for k, v in label.items() if k != "code"}
                if code == "similar_to_item":
                    evidence["title"] = self.catalogue.title(label["item_id"])
                    j = basis.group_first[g]
                    sim = float(similarities[j]) if similarities is not None else self._cos(item_id, label["item_id"])
                    evidence["similarity"] = round(sim, 4)
                reasons.append(Reason(code, w_content * float(parts[g]), evidence))
            dropped_count = int((~keep).sum())
            dropped_weight = w_content * float(parts[~keep].sum())
            residual = feats[0] - explained
            if abs(residual) > 1e-6:  # interactions older than the kept history still shape the vector
                reasons.append(Reason("earlier_activity", w_content * residual, {}))
        if feats[1] and w_collab:
            for (recent_id, b, _), part in zip(basis.recent, collab_row):
                if part:
                    reasons.append(Reason("co_interacted", w_collab * float(part), {
                        "item_id": recent_id,
                        "title": self.catalogue.title(recent_id),
                        "cooccurrence": round(self.signals.similarity(recent_id, item_id), 4),
                    }))
        if feats[2] and w_pop:
            reasons.append(Reason("trending", w_pop * feats[2], {
                "popularity": round(float(feats[2]), 4), "category": self.catalogue.category(item_id)}))
        if feats[3] and w_cat:
            reasons.append(Reason("category_affinity", w_cat * feats[3], {
                "category": self.catalogue.category(item_id), "affinity": round(float(feats[3]), 4)}))
        if feats[4] and w_fresh:
            reasons.append(Reason("new_arrival", w_fresh * feats[4], {"freshness": round(float(feats[4]), 4)}))
        reasons.sort(key=lambda r: abs(r.weight), reverse=True)
        if len(reasons) + dropped_count > _MAX_REASONS:
            rest = sum(r.weight for r in reasons[_MAX_REASONS - 1:]) + dropped_weight
            count = len(reasons) - _MAX_REASONS + 1 + dropped_count
            reasons = reasons[: _MAX_REASONS - 1] + [Reason("other", rest, {"count": count})]
        return tuple(reasons)

    def _cos(self, a: str, b: str) -> float:
        va, vb = self.index.vectors([a, b])
        return float(va @ vb)


def options_to_dict(options: RankingOptions) -> dict[str, Any]:
    """Options as plain values (recorded in evaluation output and recommendation metadata)."""
    return asdict(options)
