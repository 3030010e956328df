"""HTTP views on the worker's Faust web server: recommendations on demand, search, health, readiness, metrics.

Every parameter is validated: a mistake gets a 400 with a message, never a 500.
"""
from __future__ import annotations

from typing import Any, Mapping

from ..core.profiles import Profile
from .components import Components
from .faust_compat import recovering


class BadParameter(ValueError):
    """A query parameter a client got wrong (answered with 400 and this message)."""


def int_param(query: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    """An integer query parameter within [lo, hi]; BadParameter otherwise."""
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(f"{name} must be an integer, got {raw[:40]!r}") from None
    if not lo <= value <= hi:
        raise BadParameter(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def readiness(c: Components) -> dict[str, Any]:
    """Whether the worker should get traffic: tables recovered, partitions assigned, followed topics read."""
    app = c.app
    assignment = app.consumer.assignment()
    assigned = len(assignment)
    ready = c.status.caught_up and not app.rebalancing and not recovering(app) and assigned > 0
    return {"ready": ready, "role": c.settings.role, "index_items": len(c.state.index),
            "signal_items": len(c.state.signals.popularity), "model_version": c.state.model_version,
            "assigned_partitions": assigned, "vectors_caught_up": c.status.vectors_caught_up,
            "signals_caught_up": c.status.signals_caught_up, "recovering": recovering(app),
            "events_partitions": sorted(tp.partition for tp in assignment if tp.topic == c.settings.topic_events)}


def register(c: Components) -> None:
    """Add /recommendations/{user_id}, /health and /metrics to the app."""
    app = c.app

    @app.page("/recommendations/{user_id}")
    @app.table_route(table=c.profiles, match_info="user_id")
    async def recommendations(web, request, user_id: str):
        try:
            k = int_param(request.query, "k", c.settings.k, 1, 200)
        except BadParameter as exc:
            return web.json({"error": str(exc)}, status=400)
        raw = c.profiles.get(user_id)
        profile = Profile.from_bytes(raw) if raw is not None else Profile(user_id)
        return web.json(c.recommender.recommend(profile, k).to_message())

    @app.page("/users/{user_id}/profile")
    @app.table_route(table=c.profiles, match_info="user_id")
    async def profile(web, request, user_id: str):
        """What streamrec keeps about a shopper (their access request; the crash tests compare these)."""
        raw = c.profiles.get(user_id)
        if raw is None:
            return web.json({"error": f"no profile for user {user_id!r}"}, status=404)
        return web.json(Profile.from_bytes(raw).to_dict())

    @app.page("/items/{item_id}/signals")
    async def item_signals(web, request, item_id: str):
        """The shop-wide signals of an item as this worker sees them: popularity and strongest neighbours."""
        try:
            k = int_param(request.query, "k", 20, 1, 1000)
        except BadParameter as exc:
            return web.json({"error": str(exc)}, status=400)
        signals = c.state.signals
        neighbours = sorted(signals.neighbours(item_id).items(), key=lambda kv: kv[1], reverse=True)[:k]
        return web.json({"item_id": item_id, "popularity": signals.popularity.get(item_id),
                         "clock": signals.popularity.clock, "first_seen": signals.first_seen.get(item_id),
                         "neighbours": [{"item_id": b, "cooccurrence": v} for b, v in neighbours]})

    @app.page("/search")
    async def search(web, request):
        """Nearest items to a text (?q=) or to an indexed item (?item_id=): a plain FAISS search."""
        try:
            k = int_param(request.query, "k", 10, 1, 200)
        except BadParameter as exc:
            return web.json({"error": str(exc)}, status=400)
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
        """Liveness: 200 while the process serves HTTP (restart it when this fails); readiness in the body."""
        return web.json({"status": "ok", **readiness(c)})

    @app.page("/ready")
    async def ready(web, request):
        """Readiness: 503 until tables are recovered and item vectors and signals are caught up."""
        body = readiness(c)
        return web.json(body, status=200 if body["ready"] else 503)

    @app.page("/metrics")
    async def metrics(web, request):
        c.metrics.index_items.set(len(c.state.index))
        body, content_type = c.metrics.render()
        # aiohttp refuses a charset inside content_type=, so the full header goes in as a header
        return web.bytes(body, headers={"Content-Type": content_type})

