"""Where the encoder comes from: the packaged model (default), a folder, or a hub model at a pinned revision,
read here from a hub-cache layout made on disk (nothing is fetched)."""
import numpy as np
import pytest

from encoders import EncoderOptions, load_encoder
from encoders.errors import EncoderConfigError
from encoders.options import packaged_model_path
from streams.settings import Settings

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def hub_cache(tmp_path):
    """A hub cache holding acme/shop-encoder at COMMIT (the packaged model's files), as huggingface_hub lays it."""
    repo = tmp_path / "hub" / "models--acme--shop-encoder"
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    for file in packaged_model_path().rglob("*"):
        if file.is_file():
            target = snapshot / file.relative_to(packaged_model_path())
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(file)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    return tmp_path / "hub"


def test_a_hub_model_at_a_pinned_revision_loads_from_the_hub_cache(hub_cache, encoder, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    options = EncoderOptions(hub_name="acme/shop-encoder", hub_revision=COMMIT, hub_cache=hub_cache, device="cpu")
    assert options.resolved_model_path() == hub_cache / "models--acme--shop-encoder" / "snapshots" / COMMIT
    hub = load_encoder(options)
    assert hub.version.startswith("shop-encoder@")
    texts = ["two-person backpacking tent", "espresso machine with steam wand"]
    np.testing.assert_allclose(hub.encode(texts), encoder.encode(texts), atol=1e-5)

    monkeypatch.setenv("HF_HUB_CACHE", str(hub_cache))
    monkeypatch.setenv("STREAMREC_MODEL_HUB_NAME", "acme/shop-encoder")
    monkeypatch.setenv("STREAMREC_MODEL_REVISION", COMMIT)
    assert Settings().encoder_options().resolved_model_path().name == COMMIT


def test_a_hub_model_needs_a_pinned_revision_that_is_there(hub_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for kwargs, message in [({"hub_revision": None}, "needs a pinned revision"),
                            ({"hub_revision": "main"}, "needs a pinned revision"),
                            ({"hub_revision": "f" * 40}, "is not in the hub cache"),
                            ({"hub_revision": COMMIT, "model_path": packaged_model_path()}, "not both")]:
        with pytest.raises(EncoderConfigError, match=message):
            EncoderOptions(**{"hub_name": "acme/shop-encoder", "hub_cache": hub_cache, **kwargs})
    assert EncoderOptions().resolved_model_path() == packaged_model_path(), "the packaged model stays the default"
