"""Item metadata each worker keeps beside its index, as columns indexed by dense item id (items.py).

Ranking reads the columns for a whole candidate pool at once (``stocked[pool]``, ``category_code[pool]``);
the ItemMeta objects are kept for the few listed items and the HTTP views.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator, Mapping

import numpy as np

from .items import MISSING, ItemIds, grown
from .records import Item, attribute_text


@dataclass(frozen=True)
class ItemMeta:
    """The few fields of an item that ranking filters on and explanations quote."""

    item_id: str
    title: str
    category: str = ""
    price: float | None = None
    in_stock: bool = True
    published_at: float = 0.0  # when the item message was published on `items` (freshness metric)
    # attribute name → its values as text, for a page's attribute filters (scalars and lists; objects left out)
    facets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_item(cls, item: Item, published_at: float = 0.0) -> "ItemMeta":
        """The metadata part of a parsed item."""
        return cls(item.item_id, item.title, item.category, item.price, item.in_stock, published_at,
                   facets_of(item.attributes))

    def has(self, name: str, value: str) -> bool:
        """Whether attribute ``name`` holds ``value`` (compared without case)."""
        wanted = value.casefold()
        return any(v.casefold() == wanted for v in self.facets.get(name, ()))


def facets_of(attributes: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The filterable values of an item's attributes: a scalar is one value, a list its items' texts."""
    out = {}
    for name, value in attributes.items():
        if isinstance(value, dict):
            continue
        values = value if isinstance(value, list) else [value]
        texts = tuple(t for t in (attribute_text(v) for v in values if not isinstance(v, (dict, list))) if t)
        if texts:
            out[str(name)] = texts
    return out


class Catalogue:
    """Live items (deleted ones are removed, out-of-stock ones kept but flagged) over a shared ItemIds."""

    def __init__(self, ids: ItemIds | None = None) -> None:
        self.ids = ids if ids is not None else ItemIds()
        self._items: dict[str, ItemMeta] = {}
        self.live = np.zeros(0, dtype=bool)  # dense id → in the catalogue
        self.stocked = np.zeros(0, dtype=bool)  # dense id → in the catalogue and in stock (recommendable)
        self.category_code = np.zeros(0, dtype=np.int32)  # dense id → index into category_names (0: none)
        self.price = np.zeros(0, dtype=np.float64)  # dense id → price (NaN: none given)
        self.category_names: list[str] = [""]
        self._category_codes: dict[str, int] = {"": 0}

    def fit(self) -> None:
        """Grow the columns to the registry (other columns may have registered items since)."""
        size = len(self.ids)
        if len(self.live) < size:
            self.live = grown(self.live, size, False)
            self.stocked = grown(self.stocked, size, False)
            self.category_code = grown(self.category_code, size, 0)
            self.price = grown(self.price, size, np.nan)

    def category_of(self, name: str) -> int:
        """The code of a category name (registered when new)."""
        code = self._category_codes.get(name)
        if code is None:
            code = self._category_codes[name] = len(self.category_names)
            self.category_names.append(name)
        return code

    def code_of(self, name: str) -> int:
        """The code of a known category name, MISSING when no item has it."""
        return self._category_codes.get(name, MISSING)

    def put(self, meta: ItemMeta) -> None:
        """Insert or replace an item's metadata."""
        dense = self.ids.ensure(meta.item_id)
        self.fit()
        self._items[meta.item_id] = meta
        self.live[dense] = True
        self.stocked[dense] = meta.in_stock
        self.category_code[dense] = self.category_of(meta.category)
        self.price[dense] = np.nan if meta.price is None else meta.price

    def remove(self, item_id: str) -> bool:
        """Forget a deleted item; True when it was known."""
        if self._items.pop(item_id, None) is None:
            return False
        dense = self.ids.get(item_id)
        self.live[dense] = self.stocked[dense] = False
        return True

    def get(self, item_id: str) -> ItemMeta | None:
        """The metadata of an item, or None."""
        return self._items.get(item_id)

    def recommendable(self, item_id: str) -> bool:
        """Known, not deleted and in stock."""
        meta = self._items.get(item_id)
        return meta is not None and meta.in_stock

    def recommendable_ids(self, item_ids: Iterable[str]) -> list[str]:
        """The recommendable ones among ``item_ids``, in their order."""
        items = self._items
        return [i for i in item_ids if (m := items.get(i)) is not None and m.in_stock]

    def stocked_mask(self, dense: np.ndarray) -> np.ndarray:
        """Whether each dense id is recommendable (False for ids beyond the columns)."""
        self.fit()
        return self.stocked[dense]

    def categories(self, item_ids: Iterable[str]) -> list[str]:
        """The category of each item ('' when unknown)."""
        items = self._items
        return [m.category if (m := items.get(i)) is not None else "" for i in item_ids]

    def title(self, item_id: str) -> str:
        """The item's title, or its id when unknown (e.g. deleted since)."""
        meta = self._items.get(item_id)
        return meta.title if meta and meta.title else item_id

    def category(self, item_id: str) -> str:
        """The item's category ('' when unknown)."""
        meta = self._items.get(item_id)
        return meta.category if meta else ""

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def to_state(self) -> list[dict]:
        """A JSON-friendly snapshot."""
        return [asdict(m) for m in self._items.values()]

    @classmethod
    def from_state(cls, state: list[dict], ids: ItemIds | None = None) -> "Catalogue":
        """Rebuild from :meth:`to_state`."""
        catalogue = cls(ids)
        for row in state:
            facets = {name: tuple(values) for name, values in (row.get("facets") or {}).items()}
            catalogue.put(ItemMeta(**{**row, "facets": facets}))
        return catalogue
