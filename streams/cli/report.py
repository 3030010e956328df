"""`streamrec report URL...`: each experiment arm's click-through, from the workers' Prometheus counters."""
from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from collections import defaultdict

from prometheus_client.parser import text_string_to_metric_families
from scipy.stats import binomtest

from ..errors import StreamrecError


def register(sub) -> None:
    """Add the `report` subcommand."""
    parser = sub.add_parser(
        "report", help="click-through of each experiment arm, with 95%% intervals, from the workers' metrics",
        description="Reads /metrics of every worker named (each counts the events it consumed), sums "
        "streamrec_list_impressions_total and streamrec_list_interactions_total by arm, and prints each arm's "
        "click-through: events of TYPE citing a list (from_list) per impression, with a Wilson 95% interval.",
        epilog="example:\n  streamrec report http://worker-1:6066 http://worker-2:6066",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("urls", nargs="+", metavar="URL", help="a worker's web address (its /metrics is read)")
    parser.add_argument("--type", default="click", help="the event type counted as a click-through (default click)")
    parser.add_argument("--json", action="store_true", help="one JSON object per arm instead of a table")
    parser.set_defaults(run=run)


def scrape(url: str) -> tuple[dict[str, float], dict[tuple[str, str], float]]:
    """(impressions by arm, interactions by (arm, type)) of one worker."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=10) as response:
            text = response.read().decode()
    except (urllib.error.URLError, OSError) as exc:
        raise StreamrecError(f"cannot read {url}/metrics: {getattr(exc, 'reason', exc)}") from None
    impressions: dict[str, float] = defaultdict(float)
    interactions: dict[tuple[str, str], float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "streamrec_list_impressions_total":
                impressions[sample.labels["arm"]] += sample.value
            elif sample.name == "streamrec_list_interactions_total":
                interactions[(sample.labels["arm"], sample.labels["type"])] += sample.value
    return impressions, interactions


def arms(urls: list[str], event_type: str) -> list[dict]:
    """Per arm: impressions, clicks, click-through and its Wilson 95% interval (None without impressions)."""
    impressions: dict[str, float] = defaultdict(float)
    clicks: dict[str, float] = defaultdict(float)
    for url in urls:
        shown, cited = scrape(url)
        for arm, n in shown.items():
            impressions[arm] += n
        for (arm, etype), n in cited.items():
            if etype == event_type:
                clicks[arm] += n
    rows = []
    for arm in sorted(set(impressions) | set(clicks)):
        n, k = int(impressions[arm]), int(clicks[arm])
        row = {"arm": arm, "impressions": n, "clicks": k, "ctr": None, "low": None, "high": None}
        if n:
            interval = binomtest(min(k, n), n).proportion_ci(confidence_level=0.95, method="wilson")
            row.update(ctr=k / n, low=float(interval.low), high=float(interval.high))
        rows.append(row)
    return rows


def run(args: argparse.Namespace, settings) -> int:
    rows = arms(args.urls, args.type)
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    if not rows:
        print("no impressions or list-citing events counted yet")
        return 0
    print(f"{'arm':<16} {'impressions':>11} {args.type + 's':>9} {'click-through':>13}  95% interval")
    for r in rows:
        ctr = "—" if r["ctr"] is None else f"{r['ctr']:.1%}"
        interval = "—" if r["low"] is None else f"{r['low']:.1%} – {r['high']:.1%}"
        print(f"{r['arm']:<16} {r['impressions']:>11} {r['clicks']:>9} {ctr:>13}  {interval}")
    return 0
