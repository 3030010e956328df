"""The Online Retail export read as it is, the next-basket protocol and its baselines, and `streamrec eval --data online-retail`."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from streams.cli.main import main
from streams.evaluation.basket import Period, Scores, invoices_of, replay_baskets, score
from streams.evaluation.basket_baselines import build_baselines
from streams.evaluation.retail import load_retail, looks_like_retail

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
ROWS = [
    # customer 1: three invoices; customer 2: two; a guest line, a cancellation, postage, a correction
    "1001,A1,LUNCH BAG RED RETROSPOT,2,2011-05-01 10:00,1.65,12345,United Kingdom",
    "1001,B2,LUNCH BAG PAISLEY PARK,1,2011-05-01 10:00,1.65,12345,United Kingdom",
    "1001,POST,POSTAGE,1,2011-05-01 10:00,18.00,12345,United Kingdom",
    "1002,A1,LUNCH BAG RED RETROSPOT,5,2011-05-02 09:30,1.65,,United Kingdom",
    "1003,C3,\"JUMBO BAG, RED\",3,2011-05-03 11:00,2.08,22222,France",
    "1003,A1,LUNCH BAG RED RETROSPOT,1,2011-05-03 11:00,1.65,22222,France",
    "C1004,A1,LUNCH BAG RED RETROSPOT,-1,2011-05-04 12:00,1.65,22222,France",
    "1005,D4,,6,2011-06-02 08:00,0.85,12345,United Kingdom",
    "1005,A1,LUNCH BAG RED RETROSPOT,2,2011-06-02 08:00,1.65,12345,United Kingdom",
    "1005,E5,damaged,-3,2011-06-02 08:00,0.00,12345,United Kingdom",
    "1006,C3,\"JUMBO BAG, RED\",1,2011-06-03 08:00,2.08,22222,France",
    "1007,A1,LUNCH BAG RED RETROSPOT,1,2011-06-10 08:00,1.65,12345,United Kingdom",
]


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    path = tmp_path_factory.mktemp("retail") / "online_retail.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(HEADER + "\n".join(ROWS) + "\n")
    return path


def test_the_export_becomes_purchase_lines_in_time_order_and_a_catalogue(export):
    assert looks_like_retail(export)
    log = load_retail(export)
    assert [(line.invoice, line.item_id, line.customer) for line in log.lines] == [
        ("1001", "A1", "12345"), ("1001", "B2", "12345"), ("1003", "C3", "22222"), ("1003", "A1", "22222"),
        ("1005", "D4", "12345"), ("1005", "A1", "12345"), ("1006", "C3", "22222"), ("1007", "A1", "12345")]
    assert dict(log.skipped) == {"no customer (guest checkout)": 1, "cancellation": 1,
                                 "not a product (postage, fees, manual)": 1, "quantity <= 0 (correction)": 1}
    assert log.items["C3"].title == "JUMBO BAG, RED" and log.items["A1"].price == 1.65
    assert log.items["D4"].title == "D4", "an empty title falls back to the code"
    events = [i.event for i in log.dataset().interactions]
    assert {e.type for e in events} == {"purchase"} and len({e.event_id for e in events}) == len(events)


def test_a_file_of_another_shape_is_refused_in_one_line(tmp_path):
    other = tmp_path / "events.csv"
    other.write_text("user_id,type,item_id,ts\nu,view,i,1\n")
    assert not looks_like_retail(other)
    assert main(["eval", "--data", "online-retail", "--path", str(other), "--quiet"]) == 2


def test_metrics_follow_the_protocol():
    ndcg, recall, hr = score(["x", "a", "y"], {"a", "b"}, 10)
    assert recall == 0.5 and hr == 1.0
    assert ndcg == pytest.approx((1 / np.log2(3)) / (1 + 1 / np.log2(3)))
    assert score(["x"], {"a"}, 10) == (0.0, 0.0, 0.0)
    many = {f"i{n}" for n in range(20)}
    assert score(sorted(many)[:10], many, 10)[:2] == (pytest.approx(1.0), 1.0), "the ideal is min(k, relevant)"


def test_the_bootstrap_interval_is_over_customers_and_holds_the_mean():
    scores = Scores()
    rng = np.random.default_rng(1)
    for n in range(300):
        scores.add(f"c{n % 40}", ["a"] if rng.random() < 0.3 else ["b"], {"a"}, 10)
    hr = scores.summary(draws=500)["hr"]
    assert hr["low"] < hr["mean"] < hr["high"] and hr["high"] - hr["low"] < 0.3


def test_baskets_are_scored_on_the_next_invoice_with_new_and_all_targets(export):
    log = load_retail(export)
    assert [inv.items for inv in invoices_of(log.lines)][:2] == [("A1", "B2"), ("C3", "A1")]
    methods = build_baselines(list(log.items), [i.title for i in log.items.values()])
    result = replay_baskets(log.lines, methods, Period("2011-06-01", "2011-08-31"))
    # scored: 1005 (customer 12345, new D4), 1006 (22222, nothing new), 1007 (12345, nothing new)
    assert result.points == {"all": 3, "new": 1}
    personal = result.scores[("personal-frequency", "all")]
    assert personal.shown[0] == ["B2", "A1"], "one line each: the latest first"
    assert personal.shown[2][0] == "A1", "most bought first"
    assert not result.scores[("personal-frequency", "new")].values, "personal frequency has no new-item list"
    popular = result.scores[("popularity", "new")]
    assert popular.shown[0] == ["C3"], "for new, the customer's own items are left out (D4 was not sold yet)"
    knn = result.scores[("item-knn", "all")]
    # 22222 bought C3 then A1: A1's co-buyers tie (first sold first), A1 comes back through C3, not through itself
    assert knn.shown[1] == ["B2", "C3", "D4", "A1"]


def test_eval_on_an_export_writes_tables_json_and_plot(export, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["eval", "--data", "online-retail", "--path", str(export), "--quiet", "--out", str(out),
                 "--methods", "popularity,item-knn,personal-frequency,title-tfidf"]) == 0
    text = capsys.readouterr().out
    assert "target new: 1 scoring points" in text and "target all: 3 scoring points" in text
    body = json.loads((out / "eval.json").read_text())
    row = body["targets"]["all"]["personal-frequency"]
    assert body["points"] == {"new": 1, "all": 3} and row["points"] == 3
    assert row["ndcg"]["low"] <= row["ndcg"]["mean"] <= row["ndcg"]["high"] and "macro" in row["recall"]
    assert (out / "eval.png").stat().st_size > 0
    assert main(["eval", "--data", "online-retail", "--path", str(export), "--methods", "nope"]) == 2
    assert "unknown --methods nope" in capsys.readouterr().err


def test_streamrec_on_an_export_brings_bought_items_back_and_ranks_new_ones(export, tmp_path, capsys):
    out = tmp_path / "streamrec"
    assert main(["eval", "--data", "online-retail", "--path", str(export), "--quiet", "--out", str(out),
                 "--methods", "personal-frequency,streamrec,streamrec-content,streamrec-no-content"]) == 0
    body = json.loads((out / "eval.json").read_text())
    assert body["ranking"]["exclude_types"] == [], "a shop of consumables: nothing bought is excluded"
    hybrid = body["targets"]["all"]["streamrec"]
    assert hybrid["points"] == 3 and hybrid["hr"]["mean"] > 0, "A1, bought again and again, comes back"
    assert set(body["targets"]["new"]) == {"streamrec", "streamrec-content", "streamrec-no-content"}
    assert "_profiles" not in body["targets"]["all"] and set(body["new_products"]) >= {"streamrec", "streamrec-content"}
    assert "content / title TF-IDF" in capsys.readouterr().out
