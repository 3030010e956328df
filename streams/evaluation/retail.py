"""The UCI "Online Retail" invoice-line export, read as it is: purchase events, invoices and a catalogue.

The file (``InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country``,
optionally gzipped) is what a shop with such an export has. One ``purchase`` event per line with a customer,
a positive quantity, an invoice that is not a cancellation (``C…``) and a product code (not postage, fees,
manual lines …); lines in time order, equal times in file order. Titles and prices form the catalogue; an
item enters it when first seen (its first non-empty title, the latest price).
"""
from __future__ import annotations

import csv
import gzip
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from ..core.records import Event, Item
from ..errors import ImproperlyConfigured
from .data import Dataset, Interaction

DATASET = "online-retail"
FILE_NAME = "online_retail_2010-12_2011-08.csv.gz"
COLUMNS = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country")
#: stock codes that are not products (postage, fees, manual lines, samples, bank charges …)
NOT_PRODUCTS = frozenset({"POST", "DOT", "M", "D", "C2", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS", "S", "B", "m"})
NOT_PRODUCT_PREFIXES = ("gift_", "DCGS")


def is_product(code: str) -> bool:
    """Whether a stock code names a product (the README's list of non-products says which do not)."""
    return bool(code) and code not in NOT_PRODUCTS and not code.startswith(NOT_PRODUCT_PREFIXES)


@dataclass(frozen=True)
class Line:
    """One purchase line: who bought what, in which invoice, when (``row`` = file order)."""

    customer: str
    item_id: str
    invoice: str
    ts: float
    row: int
    quantity: int
    price: float
    country: str


@dataclass
class RetailLog:
    """The purchase lines in time order, the catalogue, and what was left out (nothing silently)."""

    lines: list[Line]
    items: dict[str, Item]
    skipped: Counter = field(default_factory=Counter)

    def report(self) -> list[str]:
        """Human-readable lines for the CLI."""
        customers = len({line.customer for line in self.lines})
        invoices = len({line.invoice for line in self.lines})
        out = [f"{len(self.lines):,} purchase lines, {invoices:,} invoices, {customers:,} customers, "
               f"{len(self.items):,} products"]
        out += [f"left out {n:,} lines: {reason}" for reason, n in self.skipped.most_common()]
        return out

    def dataset(self) -> Dataset:
        """The log as the replay's Dataset: one purchase event per line."""
        interactions = tuple(
            Interaction(line.customer, line.item_id, float(line.quantity), line.ts, line.row, purchase(line))
            for line in self.lines)
        return Dataset(tuple(self.items.values()), interactions, DATASET)


def purchase(line: Line) -> Event:
    """The wire event for one line (its id is the invoice and the line's row: unique and stable)."""
    return Event(f"{line.invoice}-{line.row}", line.customer, "purchase", line.ts, line.item_id)


def wire_records(log: RetailLog) -> Iterator[tuple[str, dict]]:
    """("item" | "event", record in the wire contract's shape): what `streamrec import` publishes."""
    for item in log.items.values():
        record = {"item_id": item.item_id, "title": item.title, "attributes": dict(item.attributes)}
        if item.price is not None:
            record["price"] = item.price
        yield "item", record
    for line in log.lines:
        yield "event", {"event_id": f"{line.invoice}-{line.row}", "user_id": line.customer, "type": "purchase",
                        "item_id": line.item_id, "ts": line.ts}


def looks_like_retail(path: Path) -> bool:
    """Whether the file's header is the Online Retail export's."""
    try:
        with _open(path) as handle:
            header = handle.readline().strip().lstrip("\ufeff")
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
        return False
    return tuple(h.strip() for h in header.split(",")) == COLUMNS


def resolve_path(given: str | None, repo_root: Path) -> Path:
    """The file: the one given (a file or its folder), else ../shared/data/online-retail/ from the CWD or repo root."""
    if given:
        path = Path(given).expanduser()
        return path / FILE_NAME if path.is_dir() else path
    relative = Path("..") / "shared" / "data" / DATASET / FILE_NAME
    for base in (Path.cwd(), repo_root):
        if (base / relative).is_file():
            return (base / relative).resolve()
    return (Path.cwd() / relative).resolve()


def load_retail(path: Path) -> RetailLog:
    """Read the export (plain or gzipped CSV) into purchase lines and a catalogue."""
    path = Path(path)
    if not path.is_file():
        raise ImproperlyConfigured(f"no Online Retail data at {path} (expected {FILE_NAME})")
    if not looks_like_retail(path):
        raise ImproperlyConfigured(f"{path} is not an Online Retail export (header: {', '.join(COLUMNS)})")
    lines: list[Line] = []
    titles: dict[str, str] = {}
    prices: dict[str, float] = {}
    skipped: Counter = Counter()
    with _open(path) as handle:
        for row, record in enumerate(csv.DictReader(handle)):
            reason = _unusable(record)
            if reason:
                skipped[reason] += 1
                continue
            try:
                line = _line(record, row)
            except ValueError as exc:
                skipped[f"unreadable ({exc.__class__.__name__})"] += 1
                continue
            title = (record["Description"] or "").strip()
            if title and line.item_id not in titles:
                titles[line.item_id] = title
            titles.setdefault(line.item_id, "")
            prices[line.item_id] = line.price
            lines.append(line)
    if not lines:
        raise ImproperlyConfigured(f"{path} holds no purchase line with a customer")
    lines.sort(key=lambda line: line.ts)  # stable: equal times keep the file's order
    items = {code: Item(code, title=titles[code] or code, attributes={"stock_code": code}, price=prices[code])
             for code in dict.fromkeys(line.item_id for line in lines)}  # in order of first sale
    return RetailLog(lines, items, skipped)


def _unusable(record: dict) -> str | None:
    if not (record.get("CustomerID") or "").strip():
        return "no customer (guest checkout)"
    if (record.get("InvoiceNo") or "").startswith("C"):
        return "cancellation"
    if not is_product((record.get("StockCode") or "").strip()):
        return "not a product (postage, fees, manual)"
    try:
        if int(float(record["Quantity"])) <= 0:
            return "quantity <= 0 (correction)"
    except (TypeError, ValueError):
        return "unreadable quantity"
    return None


def _line(record: dict, row: int) -> Line:
    when = datetime.strptime(record["InvoiceDate"].strip(), "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)
    customer = record["CustomerID"].strip()
    if customer.endswith(".0"):  # some copies store the id as a float
        customer = customer[:-2]
    return Line(customer, record["StockCode"].strip(), record["InvoiceNo"].strip(), when.timestamp(), row,
                int(float(record["Quantity"])), float(record["UnitPrice"] or 0.0), record.get("Country", ""))


def _open(path: Path) -> io.TextIOBase:
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    raw = gzip.open(path, "rt", encoding="utf-8", newline="") if gzipped else open(path, encoding="utf-8", newline="")
    return raw
