"""Query parameters of the HTTP views, validated: a bad one is a QueryError (answered 400), never a 500."""
from __future__ import annotations

import math
from typing import Mapping

from ..core.ranking import ListFilter

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
MAX_EXCLUDE = 1000
MAX_ATTRIBUTE_FILTERS = 20
ATTRIBUTE = "attr."  # ?attr.colour=red


class QueryError(ValueError):
    """A query parameter the view cannot use; the message says which and why."""


def positive_int(query: Mapping[str, str], name: str, default: int, *, maximum: int) -> int:
    """``?name=`` as an integer in 1..maximum (``default`` when absent)."""
    text = query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise QueryError(f"{name} must be an integer, got {text[:40]!r}") from None
    if not 1 <= value <= maximum:
        raise QueryError(f"{name} must be between 1 and {maximum}, got {value}")
    return value


def non_negative_int(query: Mapping[str, str], name: str, *, maximum: int) -> int:
    """``?name=`` as an integer in 0..maximum (0 when absent)."""
    text = query.get(name)
    if text is None:
        return 0
    try:
        value = int(text)
    except ValueError:
        raise QueryError(f"{name} must be an integer, got {text[:40]!r}") from None
    if not 0 <= value <= maximum:
        raise QueryError(f"{name} must be between 0 and {maximum}, got {value}")
    return value


def price(query: Mapping[str, str], name: str) -> float | None:
    """``?name=`` as a non-negative finite price (None when absent)."""
    text = query.get(name)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise QueryError(f"{name} must be a number, got {text[:40]!r}") from None
    if not math.isfinite(value) or value < 0:
        raise QueryError(f"{name} must be a non-negative number, got {text[:40]!r}")
    return value


def boolean(query: Mapping[str, str], name: str, default: bool) -> bool:
    """``?name=true|false`` (also 1/0, yes/no, on/off)."""
    text = query.get(name)
    if text is None:
        return default
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise QueryError(f"{name} must be true or false, got {text[:40]!r}")


def list_filter(query) -> ListFilter:
    """The page's filters: ``category=``, ``exclude=`` (comma-separated ids, may repeat), ``in_stock_only=``,
    ``price_min=``, ``price_max=``, and ``attr.NAME=VALUE`` (the item's attribute NAME holds VALUE; may repeat)."""
    category = query.get("category")
    if category is not None and not category.strip():
        raise QueryError("category must not be empty")
    getall = getattr(query, "getall", None)
    raw = getall("exclude", []) if getall is not None else ([query["exclude"]] if "exclude" in query else [])
    exclude = frozenset(part.strip() for chunk in raw for part in chunk.split(",") if part.strip())
    if len(exclude) > MAX_EXCLUDE:
        raise QueryError(f"exclude names at most {MAX_EXCLUDE} ids, got {len(exclude)}")
    low, high = price(query, "price_min"), price(query, "price_max")
    if low is not None and high is not None and low > high:
        raise QueryError(f"price_min ({low:g}) is above price_max ({high:g})")
    items = query.items() if hasattr(query, "items") else []
    attributes = tuple(sorted((name[len(ATTRIBUTE):], value) for name, value in items if name.startswith(ATTRIBUTE)))
    if any(not name or not value.strip() for name, value in attributes):
        raise QueryError("an attribute filter is attr.NAME=VALUE, both non-empty")
    if len(attributes) > MAX_ATTRIBUTE_FILTERS:
        raise QueryError(f"at most {MAX_ATTRIBUTE_FILTERS} attribute filters, got {len(attributes)}")
    return ListFilter(category=category.strip() if category else None, exclude=exclude,
                      in_stock_only=boolean(query, "in_stock_only", True), price_min=low, price_max=high,
                      attributes=tuple((name, value.strip()) for name, value in attributes))
