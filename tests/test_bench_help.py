"""Every `streamrec bench` subcommand answers --help (argparse %-formats help strings: a bare % crashes it)."""
from __future__ import annotations

import pytest

from streams.cli.bench import _BENCHES
from streams.cli.main import main


@pytest.mark.parametrize("argv", [["bench", "--help"]] + [["bench", name, "--help"] for name in _BENCHES],
                         ids=lambda argv: " ".join(argv))
def test_bench_help_prints_usage_and_exits_cleanly(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("usage: streamrec bench")
