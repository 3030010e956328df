"""The layering is a contract, not prose: import-linter checks pyproject.toml's contracts on every test run."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    result = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--config", str(REPO / "pyproject.toml")],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_private_faust_and_aiokafka_touches_live_in_one_module():
    """Underscore attributes of Faust/aiokafka objects are reached for only in runtime/faust_compat.py."""
    private = ("_set_current_event", "_read_offset", "_fetch_max_wait_ms", "_create_worker_consumer",
               "_new_consumer_thread", "_new_transport", "force_metadata_update()", "._dbs", "._client")
    offenders = []
    for path in (REPO / "streams").rglob("*.py"):
        if path.name == "faust_compat.py":
            continue
        text = path.read_text()
        offenders += [f"{path.relative_to(REPO)}: {name}" for name in private if name in text]
    assert not offenders, offenders
