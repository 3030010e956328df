"""The learning steps in the report: cold next-items, the adapter's updates, the ranker fit, the issue's goals."""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from .knn import KNN_TUNED, KNN_WINDOW
from .methods import CONTENT, LEARNED, TUNED
from .replay import ReplayResult

#: the learning goals (NDCG@k, test part; cold: hit rate on held-out next items)
GOAL_TUNED_VS_FROZEN = 3.0
GOAL_LEARNED_VS_KNN = 1.3
GOAL_LEARNED_VS_TUNED_KNN = 1.15
GOAL_COLD_VS_FROZEN = 2.0


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def learning_goals(result: ReplayResult, segment: str = "test") -> dict[str, Any]:
    """Each goal's ratio and whether it is met (None: a method it needs was not replayed)."""
    key = f"ndcg@{result.options.k}"
    hr = f"hr@{result.options.k}"
    ndcg = {m: result.summary(m, segment)[key] for m in result.methods}
    cold = {m: result.cold_summary(m, segment)[hr] for m in result.methods}
    rows = {
        "tuned_vs_frozen_content": (_ratio(ndcg.get(TUNED), ndcg.get(CONTENT)), GOAL_TUNED_VS_FROZEN),
        "learned_vs_item_knn_w50": (_ratio(ndcg.get(LEARNED), ndcg.get(KNN_WINDOW)), GOAL_LEARNED_VS_KNN),
        "learned_vs_item_knn_tuned": (_ratio(ndcg.get(LEARNED), ndcg.get(KNN_TUNED)), GOAL_LEARNED_VS_TUNED_KNN),
        "cold_hr_tuned_vs_frozen": (_ratio(cold.get(TUNED), cold.get(CONTENT)), GOAL_COLD_VS_FROZEN),
        "cold_hr_learned_vs_frozen": (_ratio(cold.get(LEARNED), cold.get(CONTENT)), GOAL_COLD_VS_FROZEN),
    }
    return {name: {"ratio": r, "goal": g, "met": None if r is None else r >= g} for name, (r, g) in rows.items()}


def learning_json(result: ReplayResult) -> dict[str, Any]:
    """Cold next-items per method and segment, the adapter's updates, the ranker fit, the goals."""
    updates = result.adapter_updates
    return {
        "cold_next_items": {seg: {m: result.cold_summary(m, seg) for m in result.methods} for seg in ("fit", "test", "full")},
        "adapter": None if not updates else {
            "updates": len(updates), "published": sum(u.published for u in updates),
            "dropped": sum(not u.published for u in updates), "final_version": result.adapter_version,
            "training_seconds": round(result.adapter_seconds, 1),
            "history": [u.__dict__ for u in updates]},
        "ranker": None if result.ranker_fit is None else result.ranker_fit.to_dict(),
        "goals": learning_goals(result),
    }


def print_learning(result: ReplayResult, console: Console) -> None:
    """Cold next-item hit rates, the adapter and ranker lines, and the goals."""
    k = result.options.k
    if result.cold_items:
        table = Table(title=f"held-out items as next items (never learned by any method): hit rate @{k}")
        for col in ("method", "fit events", "fit HR", "test events", "test HR"):
            table.add_column(col, justify="left" if col == "method" else "right")
        for method in result.methods:
            fit, test = result.cold_summary(method, "fit"), result.cold_summary(method, "test")
            table.add_row(method, f"{fit['events']:,}", f"{fit[f'hr@{k}']:.4f}", f"{test['events']:,}",
                          f"{test[f'hr@{k}']:.4f}")
        console.print(table)
    updates = result.adapter_updates
    if updates:
        published = sum(u.published for u in updates)
        console.print(f"adapter: {len(updates)} updates, {published} published, {len(updates) - published} dropped "
                      f"(validation loss worse); searching {result.adapter_version}; "
                      f"{result.adapter_seconds:.0f} s of training")
    if result.ranker_fit is not None:
        fit = result.ranker_fit
        console.print(f"learned ranker: LambdaRank, {fit.trees} trees on {fit.groups:,} lists ({fit.rows:,} rows), "
                      f"validation NDCG@10 {fit.valid_ndcg if fit.valid_ndcg is None else round(fit.valid_ndcg, 4)}")
    for name, goal in learning_goals(result).items():
        if goal["ratio"] is not None:
            mark = "[green]met[/]" if goal["met"] else "[red]not met[/]"
            console.print(f"goal {name}: {goal['ratio']:.2f}x (≥ {goal['goal']}x) → {mark}")
