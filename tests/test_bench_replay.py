"""`streamrec bench replay` for real at tiny scale: MovieLens rows over a broker into a worker, lists read back."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from streams.cli.main import main

ML100K = Path(os.environ.get("STREAMREC_ML100K", Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-100k"))
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not (ML100K / "ml-100k.inter").is_file(), reason=f"no MovieLens-100K at {ML100K}")]


def _first_interactions(folder: Path, count: int) -> Path:
    """A RecBole ml-100k folder holding the first ``count`` ratings in time order and only the movies they rate
    (so the worker embeds a few hundred titles, not 1,682)."""
    header, *rows = (ML100K / "ml-100k.inter").read_text().splitlines()
    rows = sorted((r.split("\t") for r in rows if r), key=lambda r: float(r[3]))[:count]
    movies = {r[1] for r in rows}
    item_header, *items = (ML100K / "ml-100k.item").read_text(encoding="utf-8", errors="replace").splitlines()
    folder.mkdir()
    (folder / "ml-100k.inter").write_text("\n".join([header] + ["\t".join(r) for r in rows]) + "\n")
    (folder / "ml-100k.item").write_text(
        "\n".join([item_header] + [i for i in items if i.split("\t", 1)[0] in movies]) + "\n", encoding="utf-8")
    return folder


def test_replay_paced_and_full_speed_reads_back_every_list_and_scores_it(tmp_path, capsys):
    data = _first_interactions(tmp_path / "ml", 240)
    out = tmp_path / "replay.json"
    code = main(["bench", "replay", "--movielens", str(data), "--limit", "0", "--compare", "--rate", "40",
                 "--idle", "30", "--quiet", "--json", str(out), "--plot", str(tmp_path / "replay.png")])
    printed = capsys.readouterr().out
    res = json.loads(out.read_text())
    assert code == 0
    assert [r["mode"] for r in res["runs"]] == ["paced", "full speed"]
    users = len({line.split("\t")[0] for line in (data / "ml-100k.inter").read_text().splitlines()[1:]})
    for run in res["runs"]:
        # one list per event, none lost, none doubled; every list but each user's last is scored
        assert (run["events"], run["lists"], run["missing"], run["duplicates"]) == (240, 240, 0, 0), run["mode"]
        assert run["scores"]["full"]["lists"] == 240 - users
        assert run["scores"]["test"]["lists"] + run["scores"]["fit"]["lists"] == 240 - users
        assert 0.0 <= run["scores"]["full"]["ndcg@10"] <= run["scores"]["full"]["hr@10"] <= 1.0
        assert run["events_per_s_whole"] > 0 and run["latency_ms"]["p50"] is not None
    assert res["runs"][0]["offered_per_s"] == 40 and res["runs"][1]["offered_per_s"] is None
    assert res["compare"]["events_per_s_full_over_paced"] is not None
    assert "full speed ÷ paced" in printed and "NDCG@10" in printed
    assert (tmp_path / "replay.png").stat().st_size > 1000
