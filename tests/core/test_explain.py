"""Explanations: a shop's own event type is worded as configured."""
from streams.core.explain import explain
from streams.core.ranking import Reason, ReasonCode


def test_a_shop_type_is_worded_as_configured():
    reason = Reason(ReasonCode.SIMILAR_TO_ITEM, 0.4, {"item_id": "p1", "title": "Rain jacket", "event_type": "wishlist"})
    assert explain([reason]) == "Similar to “Rain jacket”, from your wishlist activity."
