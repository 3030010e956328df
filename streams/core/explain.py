"""One readable sentence per recommended item, built from its strongest score contributions."""
from __future__ import annotations

from typing import Iterable, Sequence

from .profiles import Profile
from .ranking import Reason, ReasonCode, cited_items

_VERBS = {
    "view": "viewed",
    "click": "looked at",
    "add_to_cart": "added",
    "purchase": "bought",
    "search": "searched for",
}


def explain(reasons: Sequence[Reason]) -> str:
    """A sentence naming the real items and searches behind the two strongest positive reasons."""
    phrases: list[str] = []
    for reason in reasons:
        if reason.weight <= 0:
            continue
        phrase = _cached_phrase(reason)
        if phrase and phrase not in phrases:
            phrases.append(phrase)
        if len(phrases) == 2:
            break
    if not phrases:
        return "Picked from our catalogue for you."
    sentence = phrases[0] if len(phrases) == 1 else f"{phrases[0]}, and {_lower_first(phrases[1])}"
    return sentence + "."


def integrity_violations(reasons: Iterable[Reason], profile: Profile) -> set[str]:
    """Cited items the user never touched (must always be empty)."""
    cited = cited_items(list(reasons))
    if not cited:
        return set()
    history = {t.item_id for t in profile.history if t.item_id}
    return {item for item in cited if item not in profile.seen_ids and item not in history}


_PHRASES: dict[tuple, str] = {}  # phrases repeat across lists (the same items, searches, categories)
_PHRASE_CACHE = 50_000


def _cached_phrase(reason: Reason) -> str:
    key = (reason["code"], reason.get("title") or reason.get("query") or reason.get("category"), reason.get("event_type"),
           reason.get("every_days"))
    phrase = _PHRASES.get(key)
    if phrase is None:
        if len(_PHRASES) >= _PHRASE_CACHE:
            _PHRASES.clear()
        phrase = _PHRASES[key] = _phrase(reason)
    return phrase


def _phrase(reason: Reason) -> str:
    ev = reason  # a Reason holds its evidence keys itself
    code = reason.code
    if code == ReasonCode.SIMILAR_TO_ITEM:
        event_type = str(ev.get("event_type", ""))
        verb = _VERBS.get(event_type)
        if verb is None:  # a shop's own type (wishlist, review, share): named as it is configured
            return f"Similar to “{ev['title']}”, from your {event_type.replace('_', ' ')} activity"
        return f"Similar to “{ev['title']}”, which you {verb}"
    if code == ReasonCode.MATCHES_SEARCH:
        return f"Matches your search “{ev['query']}”"
    if code == ReasonCode.CO_INTERACTED:
        return f"Shoppers who viewed “{ev['title']}” also viewed this"
    if code == ReasonCode.TRENDING:
        category = ev.get("category")
        return f"Trending in {category} right now" if category else "Trending right now"
    if code == ReasonCode.CATEGORY_AFFINITY:
        return f"From {ev['category']}, a category you keep coming back to"
    if code == ReasonCode.NEW_ARRIVAL:
        return "New in the shop"
    if code == ReasonCode.EARLIER_ACTIVITY:
        return "In line with what you browsed earlier"
    if code == ReasonCode.BUY_AGAIN:
        return f"You order this about {_cadence(ev.get('every_days'))}" if ev.get("every_days") else "You got this before"
    return ""


def _cadence(days: float) -> str:
    """'every day', 'every 5 days', 'every 3 weeks', 'every 2 months'."""
    if days < 1.5:
        return "every day"
    if days < 13:
        return f"every {round(days)} days"
    if days < 60:
        return f"every {round(days / 7)} weeks"
    return f"every {round(days / 30)} months"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
