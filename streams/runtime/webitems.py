"""The catalogue over HTTP: ``POST /items`` and ``DELETE /items/{item_id}``.

They take the path a shop's own producer takes: each item is checked with the items agent's parser and
published to the `items` topic (key = item_id; a removal is a tombstone), and the answer is 202 once the
broker has acknowledged every message. The worker that owns the item's partition embeds and indexes it as it
does any other item message.
"""
from __future__ import annotations

from faust.web import View

from ..core.ingest import BatchError, parse_item_batch
from ..core.records import checked_id
from ..errors import InvalidMessage
from .components import Components


async def acked(topic, key: bytes, value: bytes | None) -> int:
    """Publish one message and wait for the broker's acknowledgement; its offset."""
    pending = await topic.send(key=key, value=value)
    metadata = await pending
    return metadata.offset


def register(c: Components) -> None:
    """Add POST /items and DELETE /items/{item_id} to the app."""
    app = c.app

    @app.page("/items")
    class Items(View):
        async def post(self, request):
            """Publish one item or a JSON array of them to `items`: 202 once the broker has them, or 400 with reasons."""
            if request.content_type != "application/json":
                return self.json({"error": "POST /items takes Content-Type: application/json, got "
                                           f"{request.content_type!r}"}, status=415)
            try:
                items = parse_item_batch(await request.read())
            except BatchError as exc:
                return self.json({"error": exc.message, "rejected": exc.rejected}, status=400)
            for wire in items:
                await acked(c.topics.items, wire.key, wire.value)
            return self.json({"accepted": len(items), "item_ids": [w.item.item_id for w in items],
                              "status": "published"}, status=202)

    @app.page("/items/{item_id}")
    class Item(View):
        async def delete(self, request, item_id: str):
            """Remove an item: a tombstone on `items` (the index, the catalogue and the signals drop it)."""
            try:
                item_id = checked_id(item_id.strip(), "item_id")
            except InvalidMessage as exc:
                return self.json({"error": exc.detail}, status=400)
            if not item_id:
                return self.json({"error": "item_id must not be empty"}, status=400)
            await acked(c.topics.items, item_id.encode(), None)
            return self.json({"item_id": item_id, "status": "published"}, status=202)
