"""Item metadata each worker keeps beside its index: what filtering and explanations need."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import repeat
from typing import Iterable, Iterator

from .records import Item


@dataclass(frozen=True)
class ItemMeta:
    """The few fields of an item that ranking filters on and explanations quote."""

    item_id: str
    title: str
    category: str = ""
    price: float | None = None
    in_stock: bool = True
    published_at: float = 0.0  # when the item message was published on `items` (freshness metric)

    @classmethod
    def from_item(cls, item: Item, published_at: float = 0.0) -> "ItemMeta":
        """The metadata part of a parsed item."""
        return cls(item.item_id, item.title, item.category, item.price, item.in_stock, published_at)


class Catalogue:
    """item_id → ItemMeta for live items; deleted items are removed, out-of-stock ones kept but flagged."""

    def __init__(self) -> None:
        self._items: dict[str, ItemMeta] = {}
        # Plain dict/set views kept beside the metadata so ranking filters and reads thousands of
        # candidates per event with C-level map/filter calls instead of one method call per item.
        self._stocked: set[str] = set()
        self._categories: dict[str, str] = {}

    def put(self, meta: ItemMeta) -> None:
        """Insert or replace an item's metadata."""
        self._items[meta.item_id] = meta
        self._categories[meta.item_id] = meta.category
        if meta.in_stock:
            self._stocked.add(meta.item_id)
        else:
            self._stocked.discard(meta.item_id)

    def remove(self, item_id: str) -> bool:
        """Forget a deleted item; True when it was known."""
        self._stocked.discard(item_id)
        self._categories.pop(item_id, None)
        return self._items.pop(item_id, None) is not None

    def get(self, item_id: str) -> ItemMeta | None:
        """The metadata of an item, or None."""
        return self._items.get(item_id)

    def recommendable(self, item_id: str) -> bool:
        """Known, not deleted and in stock."""
        meta = self._items.get(item_id)
        return meta is not None and meta.in_stock

    def recommendable_ids(self, item_ids: Iterable[str]) -> list[str]:
        """The recommendable ones among ``item_ids``, in their order."""
        return list(filter(self._stocked.__contains__, item_ids))

    def categories(self, item_ids: Iterable[str]) -> list[str]:
        """The category of each item ('' when unknown)."""
        return list(map(self._categories.get, item_ids, repeat("")))

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
    def from_state(cls, state: list[dict]) -> "Catalogue":
        """Rebuild from :meth:`to_state`."""
        catalogue = cls()
        for row in state:
            catalogue.put(ItemMeta(**row))
        return catalogue
