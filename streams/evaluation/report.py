"""Present a replay: a rich table on the terminal, a JSON file and a PNG of NDCG over the replay."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from ..core.ranking import FEATURES
from .learning_report import learning_json
from .replay import HYBRID, ITEM_KNN, POPULARITY, SEGMENTS, ReplayResult

#: the issue's bar: hybrid NDCG@k ≥ 1.5 × popularity and ≥ 1.0 × item-kNN (on the test part)
GOAL_VS_POPULARITY = 1.5
GOAL_VS_ITEM_KNN = 1.0


def goal_check(result: ReplayResult, segment: str = "test") -> dict[str, Any]:
    """Whether the hybrid meets the NDCG goal on a segment, and whether it still shows cold items."""
    k = result.options.k
    key = f"ndcg@{k}"
    ndcg = {m: result.summary(m, segment)[key] if m in result.logs else 0.0 for m in (HYBRID, POPULARITY, ITEM_KNN)}
    vs_pop = ndcg[HYBRID] / ndcg[POPULARITY] if ndcg[POPULARITY] else None
    vs_knn = ndcg[HYBRID] / ndcg[ITEM_KNN] if ndcg[ITEM_KNN] else None
    cold_ok = (result.logs[HYBRID].cold_shown > 0) if result.cold_items and HYBRID in result.logs else None
    met = (vs_pop is not None and vs_pop >= GOAL_VS_POPULARITY and vs_knn is not None
           and vs_knn >= GOAL_VS_ITEM_KNN and cold_ok is not False)
    return {"segment": segment, "metric": key, "hybrid_vs_popularity": vs_pop, "hybrid_vs_item_knn": vs_knn,
            "hybrid_shows_cold_items": cold_ok, "met": met}


def cold_start(result: ReplayResult) -> dict[str, Any]:
    """Per method: lists with a held-out item, how many of them went to users who rated it, distinct items."""
    out: dict[str, Any] = {"held_out_items": result.cold_items}
    for method in result.methods:
        log = result.logs[method]
        out[method] = {"lists_with_cold_item": log.cold_shown, "lists_total": len(log.latency_ms),
                       "share": log.cold_shown / len(log.latency_ms) if log.latency_ms else 0.0,
                       "matched_user_rated_it": log.cold_matched, "distinct_cold_items": len(log.cold_items_shown)}
    return out


def to_json(result: ReplayResult, command: str, data_dir: str) -> dict[str, Any]:
    """The whole report as plain values."""
    opts = result.options
    return {
        "command": command,
        "data": data_dir,
        "events": result.events,
        "users": result.users,
        "catalogue": result.catalogue,
        "boundary_event": result.boundary,
        "model_version": result.model_version,
        "seconds": round(result.seconds, 1),
        "options": {"k": opts.k, "fit_fraction": opts.fit_fraction, "rating_map": opts.rating_map,
                    "cold_items": opts.cold_items, "seed": opts.seed, "signals": opts.signals.__dict__,
                    "sharding": opts.sharding.__dict__,
                    "ranking": opts.ranking.to_dict(), "fit": opts.fit.__dict__},
        "fit": None if result.fit is None else result.fit.to_dict(),
        "metrics": {seg: {m: result.summary(m, seg) for m in result.methods} for seg in SEGMENTS},
        "goal": goal_check(result),
        "cold_start": cold_start(result),
        "learning": learning_json(result),
    }


def write_json(report: dict[str, Any], path: Path) -> Path:
    """Write the report (indented) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, default=float), encoding="utf-8")
    return path


def weights_file(result: ReplayResult, command: str) -> dict[str, Any]:
    """The fitted weights in the shape RankingWeights.from_file reads."""
    if result.fit is None:
        raise ValueError("this replay fitted no weights (fit fraction 0)")
    return {"weights": {f: getattr(result.fit.weights, f) for f in FEATURES},
            "fitted_on": f"{result.dataset} prequential replay, first {result.boundary} of {result.events} events "
                         f"(pairwise logistic, {result.fit.pairs} pairs)",
            "command": command}


def print_table(result: ReplayResult, console: Console, segment: str = "test") -> None:
    """The methods side by side on one segment."""
    k = result.options.k
    title = {"test": f"test part: lists after event {result.boundary:,} of {result.events:,}",
             "fit": f"fit part: lists before event {result.boundary:,}", "full": "whole replay"}[segment]
    table = Table(title=title)
    for col in ("method", "lists", f"HR@{k}", f"NDCG@{k}", f"MRR@{k}", "coverage", "cites history", "p50 ms", "p99 ms"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for method in result.methods:
        s = result.summary(method, segment)
        explained = s["explained_by_history"]
        table.add_row(method, f"{s['lists']:,}", f"{s[f'hr@{k}']:.4f}", f"{s[f'ndcg@{k}']:.4f}", f"{s[f'mrr@{k}']:.4f}",
                      f"{s['coverage']:.3f}", "–" if explained is None else f"{explained:.3f}",
                      _ms(s["latency_p50_ms"]), _ms(s["latency_p99_ms"]))
    console.print(table)


def print_summary(result: ReplayResult, console: Console) -> None:
    """Fit, goal and cold-start lines under the table."""
    if result.fit is not None:
        console.print(f"fitted weights: {result.fit.to_dict()['weights']} "
                      f"(pairs {result.fit.pairs:,}, pair accuracy {result.fit.pair_accuracy:.3f})")
    goal = goal_check(result)
    ratio = lambda x: "n/a" if x is None else f"{x:.2f}x"  # noqa: E731
    mark = "[green]met[/]" if goal["met"] else "[red]not met[/]"
    console.print(f"goal ({goal['metric']}, test part): hybrid = {ratio(goal['hybrid_vs_popularity'])} popularity "
                  f"(≥ {GOAL_VS_POPULARITY}x), {ratio(goal['hybrid_vs_item_knn'])} item-kNN (≥ {GOAL_VS_ITEM_KNN}x) → {mark}")
    if result.cold_items:
        cold = cold_start(result)
        for method in (m for m in result.methods if m.startswith(HYBRID)):  # every streamrec step
            c = cold[method]
            console.print(f"cold start ({len(result.cold_items)} held-out items, no interactions): {method} showed one "
                          f"in {c['lists_with_cold_item']:,} lists ({c['share']:.2%}), {c['distinct_cold_items']} distinct; "
                          f"{c['matched_user_rated_it']:,} of those lists went to a user who did rate it")


def plot(result: ReplayResult, path: Path, window: int = 2000) -> Path:
    """NDCG@k of each method over the replay (moving mean over ``window`` lists), fit boundary marked."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and CI
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    for method in result.methods:
        idx, values = result.ndcg_series(method)
        if len(values) == 0:
            continue
        w = max(1, min(window, len(values) // 5 or 1))
        smooth = np.convolve(values, np.ones(w) / w, mode="valid")
        ax.plot(idx[w - 1:], smooth, label=method, linewidth=1.2)
    if result.boundary:
        ax.axvline(result.boundary, color="grey", linestyle="--", linewidth=1)
        ax.text(result.boundary, ax.get_ylim()[1] * 0.95, " fit → test", color="grey", fontsize=8, va="top")
    ax.set_xlabel("event (replay order)")
    ax.set_ylabel(f"NDCG@{result.options.k} (moving mean)")
    name = "MovieLens-100K" if result.dataset == "ml-100k" else result.dataset
    ax.set_title(f"Prequential replay of {result.events:,} {name} interactions")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"
