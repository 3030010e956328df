"""`streamrec eval` and `streamrec fit` on a shop's own catalogue and event log (wire-contract files)."""
from __future__ import annotations

import csv
import json

import pytest

from streams.cli.main import main
from streams.evaluation.shop import load_shop
from streams.local.sample import catalogue, sessions
from streams.settings import Settings


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A shop's catalogue as JSON lines and its history as CSV, with a few records the replay must leave out."""
    folder = tmp_path_factory.mktemp("shop")
    items = catalogue(per_category=4)
    (folder / "items.jsonl").write_text("\n".join(json.dumps(i) for i in items) + "\n{\"item_id\": \"untitled\"}\n")
    events = sessions(items, users_per_persona=6)
    events.append({"event_id": "late-dup", "user_id": "x", "type": "view", "item_id": items[0]["item_id"], "ts": 1.0})
    events.append({"event_id": "late-dup", "user_id": "x", "type": "view", "item_id": items[0]["item_id"], "ts": 2.0})
    events.append({"event_id": "ghost", "user_id": "x", "type": "view", "item_id": "not-in-catalogue", "ts": 3.0})
    with open(folder / "events.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["event_id", "user_id", "type", "item_id", "query", "ts"])
        writer.writeheader()
        writer.writerows(events)
    return folder, len(events)


def test_a_shop_log_loads_in_time_order_and_says_what_it_left_out(shop):
    folder, _ = shop
    dataset, report = load_shop(folder / "items.jsonl", folder / "events.csv")
    assert report.items == 80 and dataset.name == "events"
    assert dict(report.skipped) == {"item missing_title": 1, "event search (no item to predict)": 48,
                                    "event duplicate event_id": 1, "event item not in the catalogue": 1}
    ts = [i.ts for i in dataset.interactions]
    assert ts == sorted(ts) and dataset.interactions[0].to_event("view").type == "view"


def test_eval_and_fit_replay_a_shops_own_log(shop, tmp_path, capsys):
    folder, _ = shop
    flags = ["--items", str(folder / "items.jsonl"), "--events", str(folder / "events.csv"), "--quiet",
             "--cold-items", "0"]
    assert main(["eval", *flags, "--out", str(tmp_path / "eval")]) == 0
    out = capsys.readouterr().out
    assert "80 items, 289 events replayable" in out and "test part" in out and "popularity" in out
    report = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert report["data"].endswith("items.jsonl + " + str(folder / "events.csv")) and report["events"] == 289
    assert (tmp_path / "eval" / "eval.png").stat().st_size > 0

    weights = tmp_path / "mine" / "weights.json"
    assert main(["fit", *flags, "--out", str(weights), "--report", str(tmp_path / "fit")]) == 0
    assert f"fitted weights saved to {weights}" in capsys.readouterr().out
    saved = json.loads(weights.read_text())
    assert saved["fitted_on"].startswith("events prequential replay") and set(saved["weights"]) >= {"content", "collab"}
    options = Settings(weights=weights).ranking_options()
    assert options.weights_label.startswith("weights:weights@")


def test_data_flags_are_checked_in_one_line(shop, tmp_path, capsys, monkeypatch):
    folder, _ = shop
    assert main(["eval", "--items", str(folder / "items.jsonl")]) == 2
    assert capsys.readouterr().err.strip() == ("streamrec: error: give both --items and --events (a shop's catalogue "
                                               "and its event log), or neither")
    monkeypatch.setenv("STREAMREC_ML100K", str(tmp_path / "elsewhere"))
    assert main(["eval", "--limit", "5"]) == 2
    assert capsys.readouterr().err.strip() == (f"streamrec: error: no MovieLens data in {tmp_path / 'elsewhere'} "
                                               "(expected ml-100k.inter)")
    assert main(["fit", "--out", str(tmp_path / "w.json"), "--fit-fraction", "0"]) == 2
    assert "--fit-fraction must be above 0" in capsys.readouterr().err
