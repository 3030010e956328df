"""Only mean-pooled models are accepted, and a refused one ends the CLI in one line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from encoders.errors import EncoderConfigError
from encoders.pooling import check_mean_pooling


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
