"""Items like this one: behaviour and text blended, the item and what the page may not show left out, reasons."""
import numpy as np
import pytest

from index import IndexOptions
from streams.core.catalogue import ItemMeta
from streams.core.ranking import ListFilter
from streams.core.vectors import VectorRecord
from streams.core.similar import SimilarOptions, UnknownItem, similar_items
from streams.core.state import ItemState

DIM = 8
MODEL = "m@1"


def unit(*values):
    v = np.zeros(DIM, dtype=np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


ITEMS = {  # id → (vector, category, in stock)
    "tent-a": (unit(1, 0), "Tents", True),
    "tent-b": (unit(1, 0.2), "Tents", True),
    "tent-sold-out": (unit(1, 0.05), "Tents", False),
    "bag-a": (unit(0, 0, 1), "Sleeping Bags", True),
    "pan-a": (unit(0, 0, 0, 1), "Cookware", True),
}


@pytest.fixture
def state():
    s = ItemState.open_empty(model_version=MODEL, dim=DIM, index_options=IndexOptions(kind="flat", use_gpu="never"))
    s.apply([("item-vectors:0", n, VectorRecord(i, MODEL, v, ItemMeta(i, i.replace("-", " ").title(), cat, in_stock=stock)))
             for n, (i, (v, cat, stock)) in enumerate(ITEMS.items())])
    for n in range(6):  # six shoppers view the tent, then the sleeping bag (and the sold-out tent)
        s.signals.observe("tent-a", [], float(n))
        s.signals.observe("bag-a", ["tent-a"], float(n))
        s.signals.observe("tent-sold-out", ["tent-a"], float(n))
    s.signals.observe("pan-a", ["tent-a"], 7.0)  # one shopper's pair: below the minimum count
    return s


def test_behaviour_and_text_blend_with_reasons_and_leave_out_the_item_and_sold_out_ones(state):
    listed = similar_items(state, "tent-a", 10, SimilarOptions(min_pair_count=5))
    ids = [i["item_id"] for i in listed]
    assert "tent-a" not in ids and "tent-sold-out" not in ids
    assert ids[:2] == ["bag-a", "tent-b"]  # co-viewed by six shoppers beats a text neighbour
    by_id = {i["item_id"]: i for i in listed}
    assert [r["code"] for r in by_id["bag-a"]["reasons"]] == ["co_interacted"]
    assert by_id["bag-a"]["explanation"] == "Shoppers who viewed “Tent A” also viewed this."
    assert [r["code"] for r in by_id["tent-b"]["reasons"]] == ["similar_to_item"]
    assert by_id["tent-b"]["reasons"][0]["item_id"] == "tent-a"
    for item in listed:  # the reasons add up to the score
        assert sum(r.weight for r in item["reasons"]) == pytest.approx(item["score"], abs=1e-6)
    assert not any(r["code"] == "co_interacted" for r in by_id.get("pan-a", {"reasons": []})["reasons"]), \
        "a pair one shopper made is not shown"


def test_filters_and_unknown_items(state):
    only_tents = similar_items(state, "tent-a", 10, list_filter=ListFilter(category="Tents"))
    assert [i["item_id"] for i in only_tents] == ["tent-b"]
    with_sold_out = similar_items(state, "tent-a", 10, SimilarOptions(min_pair_count=5),
                                  ListFilter(in_stock_only=False, exclude=frozenset({"bag-a"})))
    assert "tent-sold-out" in [i["item_id"] for i in with_sold_out] and "bag-a" not in str(with_sold_out)
    assert len(similar_items(state, "tent-a", 1)) == 1
    with pytest.raises(UnknownItem):
        similar_items(state, "nothing-like-it", 10)
