"""streamrec: streaming, real-time, explainable recommendations for online shops."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("streamrec")  # pyproject.toml is the one place the version is written
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
