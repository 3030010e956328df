"""The OpenAPI 3 document of a worker's HTTP API, generated from the routes it serves (``GET /openapi.json``).

The paths are the worker's aiohttp router; the methods and the scope each needs are httpauth.py's tables (a
route those tables do not name is refused, so they are the API); what each route takes and answers is
described here, in one table, and apispec assembles the document. A served route without a description here
still appears (with its scope), so the document never misses one; the tests check that every one is described.
"""
from __future__ import annotations

from typing import Any, Iterable

from apispec import APISpec

from .. import __version__
from ..settings import MAX_K
from .httpauth import OPEN_ROUTES, ROUTE_SCOPES

_ID = {"type": "string", "minLength": 1}
_K = {"name": "k", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_K},
      "description": "items in the list"}
LIST_PARAMETERS = [
    _K,
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 999},
     "description": "items of the list to skip (the next page: offset + k)"},
    {"name": "category", "in": "query", "schema": {"type": "string"}, "description": "only items of this category"},
    {"name": "exclude", "in": "query", "schema": {"type": "string"}, "description": "ids never to list, comma-separated"},
    {"name": "in_stock_only", "in": "query", "schema": {"type": "boolean"}, "description": "false lets out-of-stock items in"},
    {"name": "price_min", "in": "query", "schema": {"type": "number", "minimum": 0}, "description": "lowest price listed"},
    {"name": "price_max", "in": "query", "schema": {"type": "number", "minimum": 0}, "description": "highest price listed"},
]
SCHEMAS: dict[str, dict] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}},
              "additionalProperties": True},
    "Reason": {"type": "object", "required": ["code", "weight"], "additionalProperties": True,
               "properties": {"code": {"type": "string"}, "weight": {"type": "number"}}},
    "ListedItem": {"type": "object", "required": ["item_id", "score", "reasons"], "additionalProperties": True,
                   "properties": {"item_id": {"type": "string"}, "title": {"type": "string"}, "score": {"type": "number"},
                                  "explanation": {"type": "string"},
                                  "reasons": {"type": "array", "items": {"$ref": "#/components/schemas/Reason"}}}},
    "RecommendationList": {"type": "object", "required": ["user_id", "items"], "additionalProperties": True,
                           "properties": {"user_id": {"type": "string"}, "list_id": {"type": "string"}, "arm": {"type": "string"},
                                          "cold_start": {"type": "boolean"}, "model_version": {"type": "string"},
                                          "items": {"type": "array", "items": {"$ref": "#/components/schemas/ListedItem"}}}},
    "SimilarList": {"type": "object", "required": ["item_id", "items"], "additionalProperties": True,
                    "properties": {"item_id": {"type": "string"}, "list_id": {"type": "string"},
                                   "items": {"type": "array", "items": {"$ref": "#/components/schemas/ListedItem"}}}},
    "Event": {"type": "object", "required": ["type"], "additionalProperties": True,
              "description": "one shopper action in the wire contract's shape (README: wire contract)",
              "properties": {"event_id": {"type": "string"}, "user_id": {"type": "string"}, "type": {"type": "string"},
                             "session_id": {"type": "string"}, "from_list": {"type": "string"},
                             "ts": {"type": "number"}, "item_id": {"type": "string"}, "query": {"type": "string"}}},
    "Item": {"type": "object", "required": ["item_id"], "additionalProperties": True,
             "description": "a catalogue entry in the wire contract's shape (README: wire contract)",
             "properties": {"item_id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
                            "category": {"type": "string"}, "attributes": {"type": "object", "additionalProperties": True},
                            "price": {"type": "number", "minimum": 0}, "in_stock": {"type": "boolean"}}},
    "Accepted": {"type": "object", "additionalProperties": True,
                 "properties": {"accepted": {"type": "integer"}, "event_ids": {"type": "array", "items": {"type": "string"}},
                                "item_id": {"type": "string"}, "status": {"type": "string"}}},
    "Object": {"type": "object", "additionalProperties": True},
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(name: str) -> dict:
    """One object of the schema, or a JSON array of them."""
    schema = {"oneOf": [_ref(name), {"type": "array", "items": _ref(name)}]}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


ATTRIBUTE_FILTERS = "Attribute filters: `attr.NAME=VALUE` (repeatable), the item's attribute NAME holds VALUE."

#: (method, route) → operationId, summary, query parameters, request body, success status and schema
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/recommendations/{user_id}"): dict(
        id="getRecommendations", summary="The list a shopper would get now, under the page's filters",
        note=ATTRIBUTE_FILTERS,
        query=LIST_PARAMETERS, ok=(200, "RecommendationList")),
    ("GET", "/sessions/{session_id}/recommendations"): dict(
        id="getSessionRecommendations", summary="A guest's list (events with session_id, no user_id)",
        query=LIST_PARAMETERS, ok=(200, "RecommendationList"),
        note=ATTRIBUTE_FILTERS),
    ("GET", "/items/{item_id}/similar"): dict(
        id="getSimilarItems", summary="Items like this one (a product page): behaviour and text, with reasons",
        note=ATTRIBUTE_FILTERS,
        query=LIST_PARAMETERS, ok=(200, "SimilarList")),
    ("GET", "/items/{item_id}/signals"): dict(
        id="getItemSignals", summary="An item's shop-wide signals: popularity and co-occurrence neighbours",
        query=[{**_K, "description": "neighbours shown"}], ok=(200, "Object")),
    ("POST", "/items"): dict(
        id="postItem", summary="Publish an item (or a JSON array of them) to the items topic; 202 once the broker has it",
        body=_body("Item"), ok=(202, "Accepted")),
    ("DELETE", "/items/{item_id}"): dict(
        id="deleteItem", summary="Remove an item: a tombstone on the items topic; 202 once the broker has it",
        ok=(202, "Accepted")),
    ("POST", "/events"): dict(
        id="postEvents", summary="Publish an event or a JSON array of events to the events topic",
        body=_body("Event"), ok=(202, "Accepted")),
    ("GET", "/search"): dict(
        id="search", summary="Nearest items to a text (q) or to an indexed item (item_id)",
        query=[_K, {"name": "q", "in": "query", "schema": {"type": "string"}},
               {"name": "item_id", "in": "query", "schema": {"type": "string"}}], ok=(200, "Object")),
    ("DELETE", "/users/{user_id}"): dict(
        id="forgetUser", summary="Forget a shopper: profile removed, lists tombstoned", ok=(200, "Object")),
    ("DELETE", "/sessions/{session_id}"): dict(
        id="forgetSession", summary="Forget a guest: their session's profile removed, lists tombstoned", ok=(200, "Object")),
    ("GET", "/users/{user_id}/profile"): dict(
        id="getProfile", summary="What streamrec keeps about a shopper", ok=(200, "Object")),
    ("GET", "/health"): dict(id="health", summary="Liveness (200 while serving), readiness in the body", ok=(200, "Object")),
    ("GET", "/ready"): dict(id="ready", summary="Readiness: 503 until recovered and caught up", ok=(200, "Object")),
    ("GET", "/metrics"): dict(id="metrics", summary="Prometheus metrics (text exposition format)", ok=(200, None)),
    ("GET", "/openapi.json"): dict(id="openapi", summary="This document", ok=(200, "Object")),
}


def served_routes(paths: Iterable[str]) -> list[tuple[str, str]]:
    """(method, route) of every route the router serves under ``paths``, as the authentication tables name them."""
    known = set(ROUTE_SCOPES) | set(OPEN_ROUTES)
    wanted = set(paths)
    return sorted(key for key in known if key[1] in wanted)


def document(paths: Iterable[str]) -> dict:
    """The OpenAPI 3.0 document of the routes under ``paths`` (the router's canonical paths)."""
    spec = APISpec(title="streamrec", version=__version__, openapi_version="3.0.3",
                   info={"description": "Streaming, explainable recommendations for a shop: lists, product pages, "
                                        "events and items in, forget a shopper."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for name, schema in SCHEMAS.items():
        spec.components.schema(name, schema)
    by_path: dict[str, dict] = {}
    for method, route in served_routes(paths):
        by_path.setdefault(route, {})[method.lower()] = _operation(method, route)
    for route, operations in sorted(by_path.items()):
        spec.path(path=route, operations=operations)
    return spec.to_dict()


def _operation(method: str, route: str) -> dict:
    described = OPERATIONS.get((method, route), {})
    scope = ROUTE_SCOPES.get((method, route))
    status, schema = described.get("ok", (200, "Object"))
    content = ({"application/json": {"schema": _ref(schema)}} if schema
               else {"text/plain": {"schema": {"type": "string"}}})
    operation: dict[str, Any] = {
        "operationId": described.get("id", f"{method.lower()}{route.replace('/', '_').replace('{', '').replace('}', '')}"),
        "summary": described.get("summary", ""),
        "parameters": [{"name": name, "in": "path", "required": True, "schema": _ID} for name in _path_names(route)]
        + list(described.get("query", [])),
        "responses": {str(status): {"description": "success", "content": content},
                      "4XX": {"description": "a mistake: the message says which",
                              "content": {"application/json": {"schema": _ref("Error")}}}},
    }
    if "body" in described:
        operation["requestBody"] = described["body"]
    if scope is not None:
        operation["security"] = [{"bearer": []}]
        operation["description"] = " ".join(filter(None, [f"Needs a token with the `{scope}` scope.", described.get("note")]))
    else:
        operation["security"] = []
    return operation


def _path_names(route: str) -> list[str]:
    return [part[1:-1] for part in route.split("/") if part.startswith("{") and part.endswith("}")]
