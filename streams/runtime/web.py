"""HTTP views on the worker's Faust web server: recommendations on demand, health, Prometheus metrics."""
from __future__ import annotations

from ..core.profiles import Profile
from .components import Components


def register(c: Components) -> None:
    """Add /recommendations/{user_id}, /health and /metrics to the app."""
    app = c.app

    @app.page("/recommendations/{user_id}")
    @app.table_route(table=c.profiles, match_info="user_id")
    async def recommendations(web, request, user_id: str):
        try:
            k = int(request.query.get("k", c.settings.k))
        except ValueError:
            return web.json({"error": "k must be an integer"}, status=400)
        if not 1 <= k <= 200:
            return web.json({"error": "k must be between 1 and 200"}, status=400)
        raw = c.profiles.get(user_id)
        profile = Profile.from_bytes(raw) if raw is not None else Profile(user_id)
        return web.json(c.recommender.recommend(profile, k).to_message())

    @app.page("/search")
    async def search(web, request):
        """Nearest items to a text (?q=) or to an indexed item (?item_id=): a plain FAISS search."""
        k = min(max(int(request.query.get("k", 10)), 1), 200)
        index = c.state.index
        if "item_id" in request.query:
            item_id = request.query["item_id"]
            if item_id not in index:
                return web.json({"error": f"item {item_id} is not in the index"}, status=404)
            query = index.vectors([item_id])
        elif request.query.get("q"):
            query = c.encoder.encode([request.query["q"]])
        else:
            return web.json({"error": "give ?q=text or ?item_id=id"}, status=400)
        hits = index.search(query, k)[0] if len(index) else []
        return web.json({"hits": [{"item_id": h.item_id, "score": round(h.score, 6),
                                   "title": c.state.catalogue.title(h.item_id)} for h in hits]})

    @app.page("/health")
    async def health(web, request):
        ready = c.status.vectors_caught_up and not app.rebalancing and bool(app.consumer.assignment())
        body = {
            "status": "ok",
            "ready": ready,
            "role": c.settings.role,
            "index_items": len(c.state.index),
            "model_version": c.state.model_version,
            "assigned_partitions": len(app.consumer.assignment()),
        }
        return web.json(body)

    @app.page("/metrics")
    async def metrics(web, request):
        c.metrics.index_items.set(len(c.state.index))
        body, content_type = c.metrics.render()
        # aiohttp refuses a charset inside content_type=, so the full header goes in as a header
        return web.bytes(body, headers={"Content-Type": content_type})

