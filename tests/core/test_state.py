"""ItemState.apply: vector records applied in order, offsets tracked, another model's vectors refused."""
from support import unit

from index import IndexOptions
from streams.core.catalogue import ItemMeta
from streams.core.state import ItemState
from streams.core.vectors import VectorRecord

DIM = 4


def new_state(model_version="m@1"):
    return ItemState.open_empty(model_version=model_version, dim=DIM, index_options=IndexOptions(kind="flat"))


def test_item_state_applies_in_order_and_tracks_offsets():
    state = new_state()
    up = lambda i, v: VectorRecord(i, "m@1", v, ItemMeta(i, i.upper(), "C", published_at=5.0))  # noqa: E731
    upserted, deleted, rejected = state.apply([
        ("iv:0", 0, up("a", unit(1, 0, 0, 0))),
        ("iv:0", 1, up("b", unit(0, 1, 0, 0))),
        ("iv:1", 0, VectorRecord("a", "m@1", None, None)),  # deleted after its upsert in the same batch
        ("iv:1", 1, up("c", unit(0, 0, 1, 0))),
        ("iv:0", 2, VectorRecord("d", "other@9", unit(0, 0, 0, 1), ItemMeta("d", "D"))),
    ])
    assert (upserted, deleted) == (2, 1) and [r.item_id for _, _, r in rejected] == ["d"]
    assert "a" not in state.index and "b" in state.index and "c" in state.index and "d" not in state.index
    assert "a" not in state.catalogue and state.catalogue.title("b") == "B"
    assert state.offsets == {"iv:0": 3, "iv:1": 2}
    assert state.signals.first_seen["b"] == 5.0
