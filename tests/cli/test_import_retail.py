"""`streamrec import` on an Online Retail export, read as it is, against the real (embedded) broker."""
from __future__ import annotations

import gzip

import pytest
from support import cli

from streams.local.cluster import read_topic

pytestmark = pytest.mark.integration

EXPORT = """InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26,2.55,17850,United Kingdom
536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26,3.39,17850,United Kingdom
536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28,1.85,,United Kingdom
C536379,71053,WHITE METAL LANTERN,-1,2010-12-01 09:41,3.39,17850,United Kingdom
536370,POST,POSTAGE,3,2010-12-01 08:45,18.00,12583,France
536370,22728,"ALARM CLOCK BAKELIKE PINK",24,2010-12-01 08:45,3.75,12583,France
"""


def test_an_online_retail_export_imports_products_and_purchases(kafka, topics, tmp_path):
    path = tmp_path / "online_retail.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(EXPORT)
    out = cli(kafka, topics, "import", str(path), "--quiet")
    assert out.returncode == 0, out.stderr
    assert "published 3 products" in out.stdout and "applied 3 historical events" in out.stdout, out.stdout
    assert "left out 1 lines: cancellation" in out.stderr and "no customer (guest checkout)" in out.stderr
    items = read_topic(kafka.bootstrap, topics.items, count=3, timeout=30)
    assert {r["key"]: r["value"]["title"] for r in items}["22728"] == "ALARM CLOCK BAKELIKE PINK"
    events = read_topic(kafka.bootstrap, topics.events, count=3, timeout=30)
    assert sorted((r["key"], r["value"]["type"], r["value"]["item_id"], r["value"]["ts"]) for r in events) == [
        ("12583", "purchase", "22728", 1291193100.0), ("17850", "purchase", "71053", 1291191960.0),
        ("17850", "purchase", "85123A", 1291191960.0)]
    by_user = [r["value"]["item_id"] for r in events if r["key"] == "17850"]
    assert by_user == ["85123A", "71053"], "one customer's lines keep the file's order"
