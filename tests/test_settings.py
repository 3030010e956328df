"""Settings a shop meets first: misspelled variables, event types, log level, weights files, the generated table."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from streams import __version__
from streams.cli.common import settings_from_args
from streams.cli.config import BEGIN, END, markdown_table, write_table
from streams.cli.eval import PACKAGE_ROOT, weights_path
from streams.cli.main import build_parser, main
from streams.errors import ImproperlyConfigured
from streams.settings import Settings, misspelled_variables

REPO = Path(__file__).resolve().parents[1]


def test_a_misspelled_variable_names_the_closest_real_one():
    warnings = misspelled_variables({"STREAMREC_ENCODE_MAX_LENGTH": "256", "STREAMREC_BROKR": "x",
                                     "STREAMREC_K": "5", "STREAMREC_WHATEVER_NOT_CLOSE": "1", "PATH": "/bin"})
    assert warnings == [
        "STREAMREC_BROKR is not a streamrec setting and is ignored (did you mean STREAMREC_BROKER?)",
        "STREAMREC_ENCODE_MAX_LENGTH is not a streamrec setting and is ignored (did you mean STREAMREC_MAX_LENGTH?)",
        "STREAMREC_WHATEVER_NOT_CLOSE is not a streamrec setting and is ignored (`streamrec config` lists every setting)",
    ]


def test_the_cli_warns_on_stderr_and_runs_on(monkeypatch, capsys):
    monkeypatch.setenv("STREAMREC_HALF_LIFE_DAY", "3")
    assert main(["config"]) == 0
    out = capsys.readouterr()
    assert "streamrec: warning: STREAMREC_HALF_LIFE_DAY is not a streamrec setting and is ignored " \
           "(did you mean STREAMREC_HALF_LIFE_DAYS?)" in out.err
    assert "STREAMREC_HALF_LIFE_DAYS=7  (default)" in out.out


def test_version_comes_from_the_package_metadata():
    out = subprocess.run([sys.executable, "-m", "streams.cli.main", "--version"], capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert out.returncode == 0 and out.stdout.strip() == f"streamrec {__version__}" and __version__ != "0+unknown"


def test_worker_log_level_flag_becomes_the_setting():
    args = build_parser().parse_args(["worker", "--log-level", "DEBUG"])
    assert settings_from_args(args).log_level == "debug"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["worker", "--log-level", "loud"])
    with pytest.raises(ValidationError):
        Settings(log_level="loud")


@pytest.mark.parametrize("raw, expected", [
    ("view=1,wishlist=3, review=2.5", {"view": 1.0, "wishlist": 3.0, "review": 2.5}),
    ('{"view": 1, "share": 0.5}', {"view": 1.0, "share": 0.5}),
])
def test_event_types_and_weights_are_configuration(monkeypatch, raw, expected):
    monkeypatch.setenv("STREAMREC_EVENT_WEIGHTS", raw)
    assert Settings().event_weights == expected


@pytest.mark.parametrize("raw", ["view=0", "view=-1", "view", "=3", "bad type=1", "view=nan", "{}"])
def test_bad_event_weights_are_refused(monkeypatch, raw):
    monkeypatch.setenv("STREAMREC_EVENT_WEIGHTS", raw)
    with pytest.raises(ValidationError):
        Settings()


def test_weights_file_is_loaded_and_named(tmp_path):
    path = tmp_path / "shop-weights.json"
    path.write_text(json.dumps({"weights": {"content": 2.0, "collab": 0.5, "popularity": 0.0}}))
    options = Settings(weights=path).ranking_options()
    assert options.weights.content == 2.0 and options.weights.collab == 0.5
    assert options.weights_label.startswith("weights:shop-weights@") and len(options.weights_label) == len("weights:shop-weights@") + 8
    assert Settings().ranking_options().weights_label.startswith("weights:packaged@")


@pytest.mark.parametrize("body, message", [
    (None, "cannot read the weights file"),
    ("not json", "is not a weights file"),
    ('{"weights": {"colour": 1}}', "is not a weights file"),
    ('{"weights": {"content": "high"}}', "every weight must be a number"),
])
def test_a_bad_weights_file_is_one_clear_error(tmp_path, body, message):
    path = tmp_path / "w.json"
    if body is not None:
        path.write_text(body)
    with pytest.raises(ImproperlyConfigured, match=message):
        Settings(weights=path).ranking_options()


def test_fitted_weights_never_go_into_the_installed_package(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="inside the installed streamrec package"):
        weights_path(str(PACKAGE_ROOT / "core" / "ranking" / "default_weights.json"))
    with pytest.raises(ImproperlyConfigured, match="is a directory"):
        weights_path(str(tmp_path))
    assert weights_path(str(tmp_path / "w.json")) == tmp_path / "w.json"
    assert weights_path("out/w.json") == Path("out/w.json")


def test_the_readme_configuration_table_is_the_generated_one():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    in_readme = text[text.index(BEGIN) + len(BEGIN) + 1:text.index(END)].rstrip("\n")
    assert in_readme == markdown_table(), "run `make config-table`"
    table = markdown_table()
    for name in Settings.model_fields:
        assert f"| `STREAMREC_{name.upper()}` |" in table  # every variable named in full
    assert "/ _" not in table and "`_" not in table


def test_write_table_rewrites_only_between_the_markers(tmp_path):
    from streams.cli.config import BEGIN, END

    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{BEGIN}\n| old |\n{END}\n\nafter\n")
    assert write_table(readme) is True
    text = readme.read_text()
    assert text.startswith("# x\n\n") and text.endswith("\n\nafter\n") and "| old |" not in text
    assert write_table(readme) is False
    (tmp_path / "other.md").write_text("no markers")
    with pytest.raises(ImproperlyConfigured, match="markers"):
        write_table(tmp_path / "other.md")
