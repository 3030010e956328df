"""HTTP views on the worker's Faust web server: recommendations on demand, events in, forget a shopper, a
shopper's profile, an item's signals, search, health, readiness, metrics.

Who may call which view, and the JSON shape of every error, is httpauth.py's. Every parameter is validated:
a mistake gets a 4xx with a message, never a 500.
"""
from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from faust.web import View

from ..core.ingest import BatchError, parse_event_batch
from ..core.profiles import Profile
from ..core.records import SESSION_PREFIX, checked_id, checked_text
from ..core.recommender import MAX_DEPTH, list_id
from ..core.rules import Rules
from ..core.similar import SimilarOptions, UnknownItem, served_neighbours, similar_items
from ..errors import InvalidMessage
from ..settings import MAX_K
from .agents.forget import forget_message
from .audit import audit
from .components import Components
from .faust_compat import recovering
from .httpauth import TOKEN_KEY
from . import attribution, webitems
from .openapi import document
from .queries import QueryError, list_filter, non_negative_int, positive_int

#: seconds DELETE /users/{id} waits for the event agent to apply the forget before answering 202
FORGET_WAIT = 10.0


def learning_status(c: Components) -> dict:
    """The adapter searched (a ranking worker) or trained (a trainer)."""
    tuned = c.learning.tuned if c.learning is not None else None
    if c.trainer is not None:
        published = c.trainer.published
        return {"adapter_version": published.version if published else 0, "adapter_pairs": c.trainer.trainer.pairs_seen,
                "adapter_updates_dropped": c.trainer.rejected}
    return {"adapter_version": tuned.adapter.version} if tuned is not None else {}


def readiness(c: Components) -> dict:
    """Whether the worker should get traffic: tables recovered, partitions assigned, followed topics read."""
    app = c.app
    assignment = app.consumer.assignment()
    stalled = c.stalls.stalled if c.stalls is not None else []  # records waiting, no progress (runtime/stalls.py)
    ready = c.status.caught_up and not app.rebalancing and not recovering(app) and bool(assignment) and not stalled
    if c.trainer is not None:  # a trainer consumes no group partitions: ready once it has read the adapters back
        ready = c.trainer.resumed and not recovering(app) and not stalled
    return {"ready": ready, "role": c.settings.role, "index_items": len(c.state.index),
            "lists_model_version": c.recommender.model_version, **learning_status(c),
            "signal_items": len(c.state.signals.popularity), "model_version": c.state.model_version,
            "assigned_partitions": len(assignment), "vectors_caught_up": c.status.vectors_caught_up,
            "signals_caught_up": c.status.signals_caught_up, "recovering": recovering(app),
            "stalled_partitions": stalled,
            "events_partitions": sorted(tp.partition for tp in assignment if tp.topic == c.settings.topic_events)}


def caller(request) -> str:
    """Who made a request, for the audit log: the token's name and the client's address."""
    token = request.get(TOKEN_KEY)
    return f"{token.name if token else '?'}@{request.remote or '?'}"


def similar_options(settings) -> SimilarOptions:
    """The product-page blend from the worker's settings."""
    return SimilarOptions(behaviour=settings.similar_behaviour_weight, text=settings.similar_text_weight,
                          min_pair_count=settings.signal_min_pair_count)


def page(query, default_k: int) -> tuple[int, int]:
    """(k, offset) of a page of a list: ``offset + k`` reaches at most MAX_DEPTH items deep."""
    k = positive_int(query, "k", default_k, maximum=MAX_K)
    offset = non_negative_int(query, "offset", maximum=MAX_DEPTH - k)
    return k, offset


def register(c: Components) -> None:
    """Add /recommendations/{user_id}, /events, /users/{user_id}, /search, /health and /metrics to the app."""
    app = c.app
    settings = c.settings
    # the query encoder runs in one thread of its own: off the event loop, and one query at a time
    query_encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="query-encoder")
    rules = Rules.from_file(settings.rules) if settings.rules is not None else Rules()

    # A user's profile row is written from their events' partition (the table is co-partitioned with `events`),
    # so a request for a user goes to the worker that consumes that partition of `events`, keyed by the raw id.
    @app.page("/recommendations/{user_id}")
    class Recommendations(View):
        @app.topic_route(c.topics.events, match_info="user_id")
        async def get(self, request, user_id: str):
            """The list the user would get now, a page of it (?k=&offset=), under the page's filters and the shop's rules."""
            return served_list(self, request, user_id)

    @app.page("/sessions/{session_id}/recommendations")
    class SessionRecommendations(View):
        @app.topic_route(c.topics.events, match_info="session_id")
        async def get(self, request, session_id: str):
            """A guest's list (their events carry session_id without user_id), as for a user."""
            return served_list(self, request, SESSION_PREFIX + session_id)

    def served_list(view, request, key: str):
        try:
            k, offset = page(request.query, settings.k)
            filters = list_filter(request.query)
        except QueryError as exc:
            return view.json({"error": str(exc)}, status=400)
        raw = c.profiles.get(key)
        profile = Profile.from_bytes(raw) if raw is not None else Profile(key)
        return view.json(attribution.recommend(c, profile, k, filters, offset=offset, rules=rules).to_message())

    @app.page("/users/{user_id}")
    class Users(View):
        @app.topic_route(c.topics.events, match_info="user_id")
        async def delete(self, request, user_id: str):
            """Forget a shopper: the control message goes through `events`, so it lands after their earlier events."""
            return await forget(self, request, user_id, "user_id")

    @app.page("/sessions/{session_id}")
    class Sessions(View):
        @app.topic_route(c.topics.events, match_info="session_id")
        async def delete(self, request, session_id: str):
            """Forget a guest: their session's profile, as for a user."""
            return await forget(self, request, session_id, "session_id")

    async def forget(view, request, key: str, name: str):
        try:
            key = checked_id(key.strip(), name)
        except InvalidMessage as exc:
            return view.json({"error": exc.detail}, status=400)
        if not key:
            return view.json({"error": f"{name} must not be empty"}, status=400)
        request_id = uuid.uuid4().hex
        audit("forget_requested", **{name: key}, by=caller(request), request_id=request_id)
        waiter = asyncio.get_running_loop().create_future()
        c.forget_waiters[request_id] = waiter
        message_key, value, headers = forget_message(key, request_id, session=name == "session_id")
        await c.topics.events.send(key=message_key, value=value, headers=headers)
        try:
            existed = await asyncio.wait_for(asyncio.shield(waiter), FORGET_WAIT)
        except asyncio.TimeoutError:
            c.forget_waiters.pop(request_id, None)
            return view.json({name: key, "status": "accepted",
                              "detail": "the forget request is queued behind this shopper's earlier events"},
                             status=202)
        return view.json({name: key, "status": "forgotten", "profile_removed": existed})

    @app.page("/users/{user_id}/profile")
    class UserProfile(View):
        @app.topic_route(c.topics.events, match_info="user_id")
        async def get(self, request, user_id: str):
            """What streamrec keeps about a shopper (their access request; the crash tests compare these)."""
            raw = c.profiles.get(user_id)
            audit("profile_read", user_id=user_id, by=caller(request), found=raw is not None)
            if raw is None:
                return self.json({"error": f"no profile for user {user_id!r}"}, status=404)
            return self.json(Profile.from_bytes(raw).to_dict())

    @app.page("/items/{item_id}/signals")
    async def item_signals(web, request, item_id: str):
        """The shop-wide signals of an item as this worker sees them: popularity and strongest neighbours."""
        try:
            k = positive_int(request.query, "k", 20, maximum=1000)
        except QueryError as exc:
            return web.json({"error": str(exc)}, status=400)
        signals = c.state.signals
        ids, cosines = served_neighbours(signals, item_id, settings.signal_min_pair_count)
        neighbours = zip(signals.ids.name_of(ids[:k].tolist()), cosines[:k].tolist())
        return web.json({"item_id": item_id, "popularity": signals.popularity.get(item_id),
                         "clock": signals.popularity.clock, "first_seen": signals.first_seen_for(item_id),
                         "neighbours": [{"item_id": b, "cooccurrence": v} for b, v in neighbours]})

    @app.page("/items/{item_id}/similar")
    async def item_similar(web, request, item_id: str):
        """Items like this one for a product page: behaviour and text blended, with reasons (core/similar.py)."""
        try:
            k, offset = page(request.query, settings.k)
            filters = list_filter(request.query)
        except QueryError as exc:
            return web.json({"error": str(exc)}, status=400)
        try:
            items = similar_items(c.state, item_id, offset + k, similar_options(settings), filters)[offset:]
        except UnknownItem:
            return web.json({"error": f"item {item_id!r} is neither in the index nor in the signals"}, status=404)
        return web.json({"item_id": item_id, "list_id": list_id(item_id, repr(time.time()), offset), "items": items})

    @app.page("/events")
    class Events(View):
        async def post(self, request):
            """Publish one event or a JSON array of events to `events`: 202 with their ids, or 400 with reasons.

            Only a JSON body is read: a form a page elsewhere posts (no preflight) is refused with 415.
            """
            if request.content_type != "application/json":
                return self.json({"error": "POST /events takes Content-Type: application/json, got "
                                           f"{request.content_type!r}"}, status=415)
            body = await request.read()  # at most STREAMREC_HTTP_MAX_BODY bytes, else 413 (httpauth.py)
            key = request.headers.get("Idempotency-Key")
            if key is not None and not (0 < len(key) <= 255 and key.isprintable()):
                return self.json({"error": "Idempotency-Key must be 1 to 255 printable characters"}, status=400)
            try:
                events = parse_event_batch(body, types=settings.event_weights, now=time.time(), idempotency_key=key)
            except BatchError as exc:
                return self.json({"error": exc.message, "rejected": exc.rejected}, status=400)
            # 202 only once the broker acknowledged every event; else 503 and the client sends the body again
            # (the same ids: the resend is recognised as a duplicate)
            try:
                sent = [await c.topics.events.send(key=wire.key, value=wire.value) for wire in events]
                await asyncio.wait_for(asyncio.gather(*sent), settings.delivery_timeout)
            except Exception as exc:
                c.metrics.send_failures.labels(topic=settings.topic_events).inc()
                return self.json({"error": f"the events were not acknowledged by the broker ({type(exc).__name__}); "
                                           "send the same body again"}, status=503)
            c.metrics.http_events_accepted.inc(len(events))
            return self.json({"accepted": len(events), "event_ids": [w.event.event_id for w in events]}, status=202)

    @app.page("/search")
    async def search(web, request):
        """Nearest items to a text (?q=) or to an indexed item (?item_id=): a plain FAISS search."""
        try:
            k = positive_int(request.query, "k", 10, maximum=MAX_K)
        except QueryError as exc:
            return web.json({"error": str(exc)}, status=400)
        index = c.state.index
        if "item_id" in request.query:
            item_id = request.query["item_id"]
            if item_id not in index:
                return web.json({"error": f"item {item_id} is not in the index"}, status=404)
            query = index.vectors([item_id])
        elif request.query.get("q"):
            try:
                text = checked_text(request.query["q"].strip(), "q")
            except InvalidMessage as exc:
                return web.json({"error": exc.detail}, status=400)
            query = await asyncio.get_running_loop().run_in_executor(query_encoder, c.encoder.encode, [text])
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

    @app.page("/openapi.json")
    async def openapi(web, request):
        """The OpenAPI 3 document of the routes this worker serves (openapi.py)."""
        return web.json(document(route.resource.canonical for route in request.app.router.routes()))

    @app.page("/metrics")
    async def metrics(web, request):
        body, content_type = c.metrics.render()
        # aiohttp refuses a charset inside content_type=, so the full header goes in as a header
        return web.bytes(body, headers={"Content-Type": content_type})

    webitems.register(c)

