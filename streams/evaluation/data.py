"""Load MovieLens-100K from RecBole atomic files into streamrec Items and time-ordered interactions."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from ..core.records import Event, Item
from ..errors import ImproperlyConfigured, InvalidMessage

DATASET = "ml-100k"

#: how a 1–5 star rating becomes a streamrec event type (see docs/results/evaluation.md, "ratings → events")
RATING_MAPS: dict[str, dict[int, str]] = {
    # every rating is one look at the movie: the log says *what* was watched, the star says little about
    # what comes next, so each interaction carries the same profile weight
    "view": {1: "view", 2: "view", 3: "view", 4: "view", 5: "view"},
    # stars as engagement: a 5-star movie pulls the profile 4x harder than a 1–2 star one
    "graded": {1: "view", 2: "view", 3: "click", 4: "click", 5: "add_to_cart"},
}


@dataclass(frozen=True)
class Interaction:
    """One row of the `.inter` file: who rated what, how much and when (``row`` = file order)."""

    user_id: str
    item_id: str
    rating: float
    ts: float
    row: int
    event: Event | None = None  # a shop's own event (its type and weight); None for a MovieLens rating

    def to_event(self, rating_map: str) -> Event:
        """The streamrec event this rating stands for (a shop's own event as it is)."""
        if self.event is not None:
            return self.event
        mapping = RATING_MAPS[rating_map]
        stars = min(5, max(1, int(round(self.rating))))
        return Event(f"ml-{self.row}", self.user_id, mapping[stars], self.ts, self.item_id)


@dataclass(frozen=True)
class Dataset:
    """A catalogue and its interaction log, oldest first (ties keep the file's row order)."""

    items: tuple[Item, ...]
    interactions: tuple[Interaction, ...]
    name: str = DATASET  # what the replay says it replays

    def head(self, limit: int | None) -> "Dataset":
        """The first ``limit`` interactions in time order (the whole catalogue is kept)."""
        if limit is None:
            return self
        if limit < 1:
            raise ImproperlyConfigured(f"--limit must be >= 1, got {limit}")
        return Dataset(self.items, self.interactions[:limit], self.name)

    def without_items(self, item_ids: Sequence[str]) -> "Dataset":
        """The same catalogue with every interaction of these items removed (cold-start hold-out)."""
        drop = set(item_ids)
        return Dataset(self.items, tuple(i for i in self.interactions if i.item_id not in drop), self.name)


def resolve_data_dir(given: str | None, repo_root: Path) -> Path:
    """The data folder: the one given, else ../shared/data/ml-100k from the CWD, else from the repo root."""
    if given:
        return Path(given).expanduser()
    relative = Path("..") / "shared" / "data" / DATASET
    for base in (Path.cwd(), repo_root):
        candidate = (base / relative).resolve()
        if (candidate / f"{DATASET}.inter").is_file():
            return candidate
    return (Path.cwd() / relative).resolve()


def load_movielens(directory: Path) -> Dataset:
    """Read ml-100k.inter and ml-100k.item (RecBole atomic format) from ``directory``."""
    directory = Path(directory)
    inter_path = directory / f"{DATASET}.inter"
    item_path = directory / f"{DATASET}.item"
    if not inter_path.is_file():
        raise ImproperlyConfigured(f"no MovieLens data in {directory} (expected {DATASET}.inter)")
    if not item_path.is_file():
        raise ImproperlyConfigured(f"no MovieLens data in {directory} (expected {DATASET}.item)")
    items = tuple(_read_items(item_path))
    known = {i.item_id for i in items}
    interactions = list(_read_interactions(inter_path))
    unknown = {i.item_id for i in interactions} - known
    if unknown:
        raise InvalidMessage("unknown_item", f"{len(unknown)} rated item ids are missing from {item_path.name}")
    # sorted() is stable, so equal timestamps keep the file's own row order
    interactions.sort(key=lambda i: i.ts)
    return Dataset(items, tuple(interactions))


def movie_item(item_id: str, title: str, year: str, genres: str) -> Item:
    """A movie as a streamrec Item: first genre as category; year and all genres as attributes."""
    genre_list = genres.split()
    attributes = {}
    if year:
        attributes["year"] = year
    if genre_list:
        attributes["genres"] = ", ".join(genre_list)
    return Item(item_id, title=title, category=genre_list[0] if genre_list else "", attributes=attributes)


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if not header:
            raise InvalidMessage("empty_file", f"{path.name} is empty")
        names = [h.split(":", 1)[0] for h in header]  # "user_id:token" → "user_id"
        for values in reader:
            if values:
                yield dict(zip(names, values))


def _read_items(path: Path) -> Iterator[Item]:
    for row in _rows(path):
        yield movie_item(row["item_id"], row.get("movie_title", "").strip(),
                         row.get("release_year", "").strip(), row.get("class", ""))


def _read_interactions(path: Path) -> Iterator[Interaction]:
    for n, row in enumerate(_rows(path)):
        try:
            yield Interaction(row["user_id"], row["item_id"], float(row["rating"]), float(row["timestamp"]), n)
        except (KeyError, ValueError) as exc:
            raise InvalidMessage("bad_row", f"{path.name} row {n + 2}: {exc}") from None
