"""HTTP query parameters of the worker's views: every mistake is a message, never a 500."""
import pytest

from streams.core.ranking import ListFilter
from streams.runtime.queries import QueryError, list_filter, positive_int


def test_query_parameters_are_validated():
    assert positive_int({}, "k", 10, maximum=200) == 10
    for bad in ("abc", "0", "201", "-3"):
        with pytest.raises(QueryError, match="k must"):
            positive_int({"k": bad}, "k", 10, maximum=200)
    f = list_filter({"category": "Tents", "exclude": "a, b,,c", "in_stock_only": "false"})
    assert f == ListFilter(category="Tents", exclude=frozenset({"a", "b", "c"}), in_stock_only=False)
    with pytest.raises(QueryError, match="in_stock_only must be true or false"):
        list_filter({"in_stock_only": "maybe"})
    with pytest.raises(QueryError, match="category must not be empty"):
        list_filter({"category": " "})


def test_price_and_attribute_parameters_are_validated():
    f = list_filter({"price_min": "10", "price_max": "99.5", "attr.colour": " red ", "attr.size": "M"})
    assert (f.price_min, f.price_max, f.attributes) == (10.0, 99.5, (("colour", "red"), ("size", "M")))
    for bad, message in [({"price_min": "cheap"}, "price_min must be a number"),
                         ({"price_max": "-1"}, "price_max must be a non-negative"),
                         ({"price_max": "nan"}, "price_max must be a non-negative"),
                         ({"price_min": "9", "price_max": "3"}, "price_min \\(9\\) is above price_max \\(3\\)"),
                         ({"attr.": "x"}, "attr.NAME=VALUE"), ({"attr.colour": " "}, "attr.NAME=VALUE")]:
        with pytest.raises(QueryError, match=message):
            list_filter(bad)
