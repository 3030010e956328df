"""The batch ranker against the one-event path: a micro-batch ranked at once publishes, for every event, the
list and reasons that event gets when it is ranked alone on the same signals (a real FAISS index, a shop of
random items, shoppers with histories, searches, repeats and duplicates)."""
import numpy as np
import pytest

from index import IndexOptions, build_index
from streams.core.catalogue import Catalogue, ItemMeta
from streams.core.ranking import Ranker, RankingOptions, RankingWeights
from streams.core.recommender import Recommender
from streams.core.records import Event
from streams.core.signals import DeltaCollector, ItemSignals, SignalOptions

DIM = 16
ITEMS = [f"p{i}" for i in range(160)]


class Encoder:
    """A stand-in query encoder: a seeded unit vector per text."""

    version, dim = "test", DIM

    def encode(self, texts):
        out = [np.random.default_rng(sum(map(ord, t))).standard_normal(DIM).astype(np.float32) for t in texts]
        return np.stack([v / np.linalg.norm(v) for v in out])


def world(seed: int, weights: RankingWeights, mmr: float, exclude_types=None) -> Recommender:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((len(ITEMS), DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = build_index(IndexOptions(kind="flat"), DIM)
    index.upsert(ITEMS, vectors)
    catalogue = Catalogue()
    for n, item in enumerate(ITEMS):
        catalogue.put(ItemMeta(item, title=f"Item {n}", category=f"c{n % 7}", in_stock=n % 13 != 0))
    signals = ItemSignals(SignalOptions(window=6), catalogue.ids)
    clock = 1_000_000.0
    for _ in range(600):  # other shoppers' sessions: popularity and co-occurrence
        session = [ITEMS[i] for i in rng.integers(0, len(ITEMS), rng.integers(1, 8))]
        for n, item in enumerate(session):
            clock += 30.0
            signals.observe(item, session[:n][::-1], clock)
    for item in ITEMS[-8:]:  # new arrivals nobody touched
        signals.note_item(item, clock)
    options = RankingOptions(k=8, mmr_lambda=mmr, weights=weights, content_neighbours=12, collab_window=5,
                             exclude_types=exclude_types)
    return Recommender(Ranker(index, catalogue, signals, options), Encoder(), "m", clock=lambda: 0.0)


def events(seed: int) -> list[Event]:
    rng = np.random.default_rng(seed + 1)
    out = []
    for n in range(90):
        user = f"u{rng.integers(0, 12)}"
        ts = 2_000_000.0 + n * 20.0
        if rng.random() < 0.1:
            out.append(Event(f"e{n}", user, "search", ts, None, f"query {rng.integers(0, 4)}"))
        else:
            kind = ["view", "click", "add_to_cart", "purchase"][rng.integers(0, 4)]
            out.append(Event(f"e{n}", user, kind, ts, ITEMS[rng.integers(0, len(ITEMS))]))
    out.insert(40, out[12])  # a redelivery inside the batch
    return out


@pytest.mark.parametrize("seed, weights, mmr, exclude", [
    (0, RankingWeights(), 0.85, None),  # the hand-set blend, diversified
    (1, RankingWeights(content=0.03, collab=1.0, popularity=0.05, category=0.01, freshness=0.002), 0.85, None),
    (2, RankingWeights(content=1.0, collab=0.0, popularity=0.0, category=0.0, freshness=0.0), 1.0, None),  # content only
    (3, RankingWeights(repurchase=2.0), 0.85, ("view", "click")),  # purchases and carts come back: buy again
])
def test_a_batch_publishes_what_each_event_alone_publishes(seed, weights, mmr, exclude):
    frozen = DeltaCollector(SignalOptions())  # neither path changes the signals: both see the same ones
    batch = world(seed, weights, mmr, exclude).process(events(seed), {}, signals=frozen)
    single = world(seed, weights, mmr, exclude)
    profiles, alone = {}, []
    for event in events(seed):
        (outcome,) = single.process([event], profiles, signals=frozen)
        profiles[event.user_id] = outcome.profile
        alone.append(outcome)
    assert [o.recommendation.to_message()["items"] for o in batch] == \
        [o.recommendation.to_message()["items"] for o in alone]
    if exclude:
        codes = {r["code"] for o in batch for i in o.recommendation.items for r in i.reasons}
        assert "buy_again" in codes, "the case exercises the buy-again column"
