"""Present a next-basket replay: tables with intervals, goal ratios, new products, JSON and a PNG."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .basket import METRICS, TARGETS, BasketResult
from .basket_baselines import PERSONAL, TFIDF
from .stream_methods import CONTENT, HYBRID

LABELS = {"ndcg": "NDCG@10", "recall": "Recall@10", "hr": "HR@10"}
#: the bars: *new* ≥ 1.3× the best baseline, *all* ≥ 1.1× personal frequency, content ≥ title TF-IDF (NDCG@10)
GOALS = {"new": 1.3, "all": 1.1, "content": 1.0}


def summaries(result: BasketResult, draws: int = 1000) -> dict[str, dict[str, Any]]:
    """target → method → metric → {mean, macro, low, high} (methods without a list for the target left out)."""
    out: dict[str, dict[str, Any]] = {t: {} for t in TARGETS}
    for (method, target), scores in result.scores.items():
        if scores.values:
            out[target][method] = {"points": len(scores.values), **scores.summary(draws)}
    return out


def goals(figures: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The NDCG@10 ratios the goals name (None where a method was not replayed)."""
    def ndcg(target: str, method: str) -> float | None:
        row = figures[target].get(method)
        return row["ndcg"]["mean"] if row else None

    baselines = [m for m in figures["new"] if m not in (HYBRID, CONTENT)]
    best = max(baselines, key=lambda m: ndcg("new", m), default=None)
    out: dict[str, Any] = {"best_new_baseline": best}
    for key, target, num, den in (("new", "new", HYBRID, best), ("all", "all", HYBRID, PERSONAL),
                                  ("content", "new", CONTENT, TFIDF)):
        a, b = ndcg(target, num) if num else None, ndcg(target, den) if den else None
        ratio = a / b if a is not None and b else None
        out[key] = {"ratio": ratio, "goal": GOALS[key], "met": ratio is not None and ratio >= GOALS[key]}
    return out


def to_json(result: BasketResult, figures: dict, command: str, data: str, extra: dict | None = None) -> dict[str, Any]:
    """The whole report as plain values."""
    return {"command": command, "data": data, "lines": result.lines, "points": result.points,
            "seconds": round(result.seconds, 1), "targets": figures, "goals": goals(figures),
            "new_products": result.new_products, **(extra or {})}


def write_json(body: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
    return path


def print_tables(figures: dict, result: BasketResult, console: Console) -> None:
    """One table per target: every metric with its 95% interval and the per-customer average."""
    for target in TARGETS:
        table = Table(title=f"target {target}: {result.points[target]:,} scoring points "
                      f"(mean over points [95% bootstrap over customers]; macro = per-customer mean)")
        table.add_column("method")
        for metric in METRICS:
            table.add_column(LABELS[metric], justify="right")
            table.add_column("macro", justify="right")
        for method, row in figures[target].items():
            cells = []
            for metric in METRICS:
                f = row[metric]
                cells += [f"{f['mean']:.4f} [{f['low']:.4f}, {f['high']:.4f}]", f"{f['macro']:.4f}"]
            table.add_row(method, *cells)
        console.print(table)
    table = Table(title="new products (first sold in the last 30 days)")
    for column in ("method", "lists showing one", "share", "bought", "hits", "hit rate"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for method, f in result.new_products.items():
        table.add_row(method, f"{f['showing']:,}", f"{f['share_showing']:.2%}", f"{f['relevant']:,}",
                      f"{f['hits']:,}", f"{f['hit_rate']:.4f}")
    console.print(table)
    check = goals(figures)
    for key, text in (("new", f"new: streamrec / best baseline ({check['best_new_baseline']})"),
                      ("all", "all: streamrec / personal frequency"), ("content", "new: content / title TF-IDF")):
        g = check[key]
        ratio = "–" if g["ratio"] is None else f"{g['ratio']:.2f}×"
        console.print(f"{text} = {ratio} (goal ≥ {g['goal']}×): {'met' if g['met'] else 'not met'}")


def plot(figures: dict, path: Path) -> Path:
    """NDCG@10 per method and target with the 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=False)
    for ax, target in zip(axes, TARGETS):
        rows = figures[target]
        names = list(rows)
        means = [rows[m]["ndcg"]["mean"] for m in names]
        errors = [[rows[m]["ndcg"]["mean"] - rows[m]["ndcg"]["low"] for m in names],
                  [rows[m]["ndcg"]["high"] - rows[m]["ndcg"]["mean"] for m in names]]
        colours = ["tab:orange" if m.startswith("streamrec") else "tab:grey" for m in names]
        ax.barh(names, means, xerr=errors, color=colours, capsize=3)
        ax.invert_yaxis()
        ax.set_title(f"target {target}")
        ax.set_xlabel("NDCG@10 (95% bootstrap interval over customers)")
    fig.suptitle("Online Retail, next basket, invoices of 2011-06 to 2011-08")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
