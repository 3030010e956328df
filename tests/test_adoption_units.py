"""The pure pieces behind import, POST /events, page filters, dead-letter replay, custom event types and pooling."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_ranking import event, make_world

from encoders.errors import EncoderConfigError
from encoders.pooling import check_mean_pooling
from streams.core.deadletters import Letter, Selection, dead_letter, group_by_reason, parse_offset, selected
from streams.core.explain import explain
from streams.core.ingest import BatchError, parse_event_batch, wire_event
from streams.core.ranking import ListFilter, Reason, ReasonCode
from streams.core.recommender import Recommender
from streams.core.records import parse_event
from streams.errors import InvalidMessage
from streams.runtime.queries import QueryError, list_filter, positive_int

SHOP_TYPES = {"view": 1.0, "wishlist": 3.0, "purchase": 8.0, "search": 2.0}


# -- event types are configuration ------------------------------------------------------------------------

def test_a_configured_type_carries_its_weight_and_an_unknown_one_names_the_configured_ones():
    e = parse_event(b"u", json.dumps({"user_id": "u", "type": "wishlist", "item_id": "p1"}).encode(), types=SHOP_TYPES)
    assert e.type == "wishlist" and e.weight == 3.0
    with pytest.raises(InvalidMessage) as err:
        parse_event(b"u", json.dumps({"user_id": "u", "type": "click", "item_id": "p1"}).encode(), types=SHOP_TYPES)
    assert err.value.reason == "bad_type" and err.value.detail == "type must be one of view, wishlist, purchase, search, got 'click'"


def test_a_shop_type_is_worded_as_configured():
    reason = Reason(ReasonCode.SIMILAR_TO_ITEM, 0.4, {"item_id": "p1", "title": "Rain jacket", "event_type": "wishlist"})
    assert explain([reason]) == "Similar to “Rain jacket”, from your wishlist activity."


# -- events from outside Kafka ------------------------------------------------------------------------------

def test_wire_event_fills_a_stable_id_and_the_time():
    data = {"user_id": "u", "type": "view", "item_id": "p1"}
    a = wire_event(data, default_ts=100.0)
    b = wire_event(dict(data), default_ts=100.0)
    assert a.event.event_id == b.event.event_id != wire_event(dict(data), default_ts=101.0).event.event_id
    assert json.loads(a.value) == {**data, "ts": 100.0, "event_id": a.event.event_id} and a.key == b"u"
    assert wire_event({**data, "event_id": "mine"}, default_ts=1.0).event.event_id == "mine"
    with pytest.raises(InvalidMessage, match="missing_ts"):
        wire_event(data, require_ts=True)


def test_a_batch_is_one_event_or_a_list_and_is_all_or_nothing():
    one = parse_event_batch(b'{"user_id": "u", "type": "view", "item_id": "p1"}', now=5.0)
    assert [w.event.ts for w in one] == [5.0]
    many = parse_event_batch(json.dumps([{"user_id": "u", "type": "view", "item_id": "p1", "event_id": "e1"},
                                         {"user_id": "v", "type": "search", "query": "tent"}]).encode(), now=5.0)
    assert [w.event.user_id for w in many] == ["u", "v"] and many[0].event.event_id == "e1"
    with pytest.raises(BatchError) as err:
        parse_event_batch(json.dumps([{"user_id": "u", "type": "view", "item_id": "p1"}, {"type": "view"},
                                      {"user_id": "w", "type": "teleport", "item_id": "x"}, 7]).encode(), now=5.0)
    assert err.value.message == "3 of 4 events are invalid; none was published"
    assert [(r["index"], r["reason"]) for r in err.value.rejected] == [(1, "missing_user_id"), (2, "bad_type"), (3, "not_an_object")]
    for body, message in [(b"{oops", "the body is not JSON"), (b"[]", "no events"), (b"[1,", "the body is not JSON")]:
        with pytest.raises(BatchError, match=message):
            parse_event_batch(body, now=0.0)


# -- page filters ---------------------------------------------------------------------------------------------

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


def test_filters_shape_the_list():
    world = make_world()
    rec = Recommender(world, encoder=None, model_version="m")
    (outcome,) = rec.process([event("view", "tent-a", 1.0)], {})
    profile = outcome.profile
    default = rec.recommend(profile, 4).item_ids
    assert "tent-sold-out" not in default and "tent-a" not in default
    only_bags = rec.recommend(profile, 4, ListFilter(category="Sleeping Bags")).item_ids
    assert set(only_bags) == {"bag-a", "bag-b"}  # filled from the category even beyond the candidate pool
    assert "tent-b" not in rec.recommend(profile, 4, ListFilter(exclude=frozenset({"tent-b"}))).item_ids
    with_sold_out = rec.recommend(profile, 8, ListFilter(category="Tents", in_stock_only=False)).item_ids
    assert "tent-sold-out" in with_sold_out and "tent-a" not in with_sold_out  # seen stays excluded


def test_history_events_change_state_but_get_no_list():
    from dataclasses import replace

    world = make_world()
    rec = Recommender(world, encoder=None, model_version="m")
    history = [replace(event("view", "tent-a", 1.0, eid="h1"), backfill=True),
               replace(event("view", "bag-a", 2.0, eid="h2"), backfill=True)]
    outcomes = rec.process(history + [event("view", "pan-a", 3.0, eid="live")], {})
    assert [o.recommendation is None for o in outcomes] == [True, True, False]
    assert outcomes[-1].profile.seen == ["tent-a", "bag-a", "pan-a"]
    assert world.signals.popularity.get("tent-a") > 0  # signals learned from history too


# -- dead letters ---------------------------------------------------------------------------------------------

def _letter(offset, reason, value=b'{"x": 1}', partition=0, backfill=False):
    raw = dead_letter(source_topic="events", partition=partition, offset=offset, key=b"k", value=value,
                      reason=reason, detail="d", backfill=backfill)
    return Letter.from_message(f"dl@0:{offset}", b"k", raw)


def test_letters_round_trip_group_and_select():
    letters = [_letter(1, "bad_type"), _letter(2, "invalid_json", b"\x00\xff"), _letter(3, "bad_type", partition=2),
               _letter(4, "missing_ts", backfill=True)]
    assert letters[1].value == b"\x00\xff" and letters[3].backfill and letters[0].source == "events@0:1"
    assert list(group_by_reason(letters)) == ["bad_type", "invalid_json", "missing_ts"]
    assert selected(letters, Selection(reasons=frozenset({"bad_type"}))) == [letters[0], letters[2]]
    assert selected(letters, Selection(offsets=frozenset({parse_offset("2:3")}))) == [letters[2]]
    assert selected(letters, Selection(offsets=frozenset({parse_offset("3")}))) == [letters[2]]
    assert Letter.from_message("x", None, b'{"not": "a letter"}') is None
    assert Letter.from_message("x", None, b"\x00") is None
    for bad in ("x", "-1", "1:-2"):
        with pytest.raises(ValueError):
            parse_offset(bad)


# -- pooling --------------------------------------------------------------------------------------------------

def _st_model(tmp_path: Path, pooling: dict, extra_modules=()) -> Path:
    folder = tmp_path / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    modules += [{"idx": 2 + i, "name": str(2 + i), "path": f"{2 + i}_{m}", "type": f"sentence_transformers.models.{m}"}
                for i, m in enumerate(extra_modules)]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 8, **pooling}))
    return folder


def test_only_mean_pooled_models_are_accepted(tmp_path):
    mean = {"pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False}
    assert check_mean_pooling(_st_model(tmp_path / "a", mean, ["Normalize"])) == "mean"
    with pytest.raises(EncoderConfigError, match="pools with cls, not mean pooling"):
        check_mean_pooling(_st_model(tmp_path / "b", {"pooling_mode_cls_token": True}))
    with pytest.raises(EncoderConfigError, match=r"modules streamrec does not apply \(Dense\)"):
        check_mean_pooling(_st_model(tmp_path / "c", mean, ["Dense"]))
    plain = tmp_path / "plain"
    plain.mkdir()
    assert check_mean_pooling(plain) == "mean (none declared)"


def test_a_cls_pooled_model_path_ends_the_cli_in_one_line(tmp_path, capsys):
    from streams.cli.main import main

    folder = _st_model(tmp_path, {"pooling_mode_cls_token": True})
    assert main(["worker", "--model-path", str(folder), "--data-dir", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pools with cls, not mean pooling" in err[0], err


def test_produce_puts_headers_on_every_message():
    import argparse

    from streams.cli.produce import produce_options
    from streams.errors import ImproperlyConfigured
    from streams.settings import Settings

    args = argparse.Namespace(topic="events", file="-", fmt=None, rate=None, key_field=None,
                              header=["streamrec-control=forget", "x=a=b"])
    options = produce_options(args, Settings())
    assert options.headers == (("streamrec-control", b"forget"), ("x", b"a=b")) and options.key_field == "user_id"
    with pytest.raises(ImproperlyConfigured, match="--header takes NAME=VALUE"):
        produce_options(argparse.Namespace(**{**vars(args), "header": ["novalue"]}), Settings())
