"""A shop's rules on a list: boosts re-sort and pins place, each visible in the reasons; page filters by price
and attribute; pages of a list."""
import pytest

from streams.core.catalogue import Catalogue, ItemMeta, facets_of
from streams.core.ranking import ListFilter, ScoredItem
from streams.core.rules import Rules
from streams.errors import ImproperlyConfigured


@pytest.fixture
def catalogue():
    c = Catalogue()
    c.put(ItemMeta("a", "A", "Tents", 100.0, facets=facets_of({"colour": ["Red", "olive"], "size": 2})))
    c.put(ItemMeta("b", "B", "Tents", 300.0, facets=facets_of({"colour": "olive", "care": {"wash": "30"}})))
    c.put(ItemMeta("c", "C", "Bags", None))
    c.put(ItemMeta("d", "D", "Bags", 50.0, in_stock=False))
    return c


def listed(*pairs):
    return [ScoredItem(i, s, ()) for i, s in pairs]


def test_boosts_resort_and_pins_place_with_reasons(catalogue):
    rules = Rules.from_object({"rules": [{"name": "bags-week", "boost": 0.5, "category": "Bags"},
                                         {"name": "hero", "pin": "b", "position": 1},
                                         {"name": "gone", "pin": "d", "position": 2}]})
    out = rules.apply(listed(("a", 0.9), ("b", 0.6), ("c", 0.5)), catalogue, ListFilter())
    assert [i.item_id for i in out] == ["b", "c", "a"], "b pinned first; c lifted above a; d (sold out) not pinned"
    assert [r["code"] for r in out[0].reasons] == ["pinned"] and out[0].reasons[0]["rule"] == "hero"
    assert out[1].reasons[-1]["code"] == "boosted" and out[1].reasons[-1]["rules"] == ["bags-week"]
    assert out[1].score == pytest.approx(1.0) and out[2].reasons == ()


@pytest.mark.parametrize("bad", [{}, {"rules": [{"boost": 1, "category": "x"}]}, {"rules": [{"name": "n", "boost": 0}]},
                                 {"rules": [{"name": "n", "boost": 1}]}, {"rules": [{"name": "n", "pin": "a", "position": 0}]}])
def test_a_malformed_rule_is_a_readable_configuration_error(bad):
    with pytest.raises(ImproperlyConfigured):
        Rules.from_object(bad)


def test_price_and_attribute_filters(catalogue):
    def admitted(f):
        return [i for i in "abcd" if f.admits(i, catalogue)]
    assert admitted(ListFilter(price_min=80, price_max=200)) == ["a"], "no price: left out of a price range"
    assert admitted(ListFilter(attributes=(("colour", "OLIVE"),))) == ["a", "b"]
    assert admitted(ListFilter(attributes=(("colour", "red"), ("size", "2")))) == ["a"]
    assert admitted(ListFilter(attributes=(("care", "30"),))) == [], "objects are not filterable"
    assert admitted(ListFilter(in_stock_only=False, price_max=60)) == ["d"]
