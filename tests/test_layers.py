"""The layering is a contract, not prose: import-linter checks pyproject.toml's contracts on every test run, and ruff
keeps private attributes of Faust and aiokafka to one module."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    result = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--config", str(REPO / "pyproject.toml")],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_private_attributes_of_other_objects_are_touched_only_in_faust_compat():
    """ruff's SLF001 (pyproject.toml): no `other._private` in streams/, encoders/ or index/, except in
    streams/runtime/faust_compat.py, which keeps every such touch of Faust and aiokafka with its reason."""
    result = subprocess.run([str(Path(sys.executable).with_name("ruff")), "check", "--no-cache", "streams", "encoders",
                             "index"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
