"""The Docker Compose deployment, checked without a Docker engine: files, settings, Prometheus and Grafana."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from streams.metrics import Metrics
from streams.runtime.kafka import contract_topics, topic_configs
from streams.settings import Settings

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
PROMETHEUS_YML = REPO / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"
PROVISIONING = REPO / "deploy" / "grafana" / "provisioning"

# PromQL words that are not metric names: functions, aggregations, keywords
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "group",
    "rate", "irate", "increase", "delta", "idelta", "deriv", "histogram_quantile", "vector", "scalar", "time",
    "abs", "ceil", "floor", "round", "clamp", "clamp_min", "clamp_max", "label_replace", "label_join", "absent",
    "avg_over_time", "max_over_time", "min_over_time", "sum_over_time", "count_over_time", "changes", "resets",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not on PATH (Debian: apt-get install prometheus; .ci/run installs it)")
    return path


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def sample_names():
    """Every sample name streams.metrics.Metrics exposes (histograms: _bucket/_sum/_count, info: _info)."""
    suffixes = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"], "info": ["_info"]}
    names = set()
    for family in Metrics(CollectorRegistry()).registry.collect():
        names.update(family.name + s for s in suffixes[family.type])
    return names


def dashboard_exprs() -> list[tuple[str, str]]:
    exprs = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                exprs.append((f"{path.name}: {panel['title']}", target["expr"]))
    return exprs


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (strings, matchers, ranges and groupings removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    words = re.findall(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*", text)
    return {w for w in words if w not in PROMQL_WORDS}


# -- docker-compose.yml --------------------------------------------------------------------------------

def test_compose_has_the_services_and_their_dependencies_exist(compose):
    services = compose["services"]
    assert {"kafka-1", "kafka-2", "kafka-3", "topics", "worker", "encoder-gpu", "prometheus", "grafana"} <= set(services)
    for name, service in services.items():
        depends = service.get("depends_on", [])
        for dependency in depends if isinstance(depends, list) else depends.keys():
            assert dependency in services, f"{name} depends on undefined service {dependency}"
    assert services["worker"]["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    for node in ("kafka-1", "kafka-2", "kafka-3"):
        assert services["topics"]["depends_on"][node]["condition"] == "service_healthy"
        assert "healthcheck" in services[node]


def test_compose_cluster_replicates_every_topic_three_times(compose):
    """Three brokers, replication factor 3, two in-sync replicas: one broker may fail without data loss."""
    services = compose["services"]
    voters = services["kafka-1"]["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"]
    assert voters.count("@kafka-") == 3
    assert {services[n]["environment"]["KAFKA_NODE_ID"] for n in ("kafka-1", "kafka-2", "kafka-3")} == {1, 2, 3}
    worker = services["worker"]["environment"]
    assert worker["STREAMREC_REPLICATION_FACTOR"].endswith(":-3}") and worker["STREAMREC_MIN_INSYNC_REPLICAS"].endswith(":-2}")
    topics = services["topics"]["environment"]
    assert topics["REPLICATION"].endswith(":-3}") and topics["MIN_ISR"].endswith(":-2}")
    script = (REPO / "deploy" / "kafka" / "create-topics.sh").read_text()
    assert '--replication-factor "$REPLICATION"' in script and 'min.insync.replicas=$MIN_ISR' in script


def test_compose_builds_and_mounts_only_files_that_exist(compose):
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            context = REPO / build.get("context", ".")
            assert context.is_dir(), name
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), f"{name}: dockerfile missing"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"
            elif ":" in volume and not source.startswith("/"):
                assert source in compose.get("volumes", {}), f"{name} uses undeclared volume {source}"
        entry = service.get("entrypoint") or []
        mounted = {v.split(":")[1] for v in service.get("volumes", []) if v.count(":") >= 1}
        for word in entry:
            if word.endswith(".sh"):
                assert word in mounted, f"{name} runs {word}, which is not mounted"


def test_compose_streamrec_variables_are_real_settings(compose):
    fields = set(Settings.model_fields)
    seen = set()
    for name, service in compose["services"].items():
        for variable in (service.get("environment") or {}):
            if variable.startswith("STREAMREC_"):
                field = variable.removeprefix("STREAMREC_").lower()
                assert field in fields, f"{name}: {variable} is not a Settings field"
                seen.add(field)
    assert {"broker", "data_dir", "web_port", "web_host", "role", "device", "topic_partitions"} <= seen


def test_compose_worker_and_gpu_encoder_roles(compose):
    worker = compose["services"]["worker"]["environment"]
    assert worker["STREAMREC_WEB_HOST"] == "0.0.0.0" and worker["STREAMREC_WEB_PORT"] == "6066"
    assert worker["STREAMREC_BROKER"] == "kafka://kafka-1:19092;kafka-2:19092;kafka-3:19092"
    assert "ports" in compose["services"]["worker"] and "container_name" not in compose["services"]["worker"], \
        "a fixed container name would break --scale"
    gpu = compose["services"]["encoder-gpu"]
    assert gpu["profiles"] == ["gpu"]
    assert gpu["environment"]["STREAMREC_ROLE"] == "encoder" and gpu["environment"]["STREAMREC_DEVICE"] == "cuda"
    Settings(role="encoder", device="cuda")  # the values are ones Settings accepts
    device = gpu["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]


def test_topic_script_creates_every_contract_topic():
    script = (REPO / "deploy" / "kafka" / "create-topics.sh").read_text()
    settings = Settings()
    configs = topic_configs(settings)
    for topic in contract_topics(settings):
        line = re.search(rf"^create {re.escape(topic)} .*$", script, re.M)
        assert line, f"{topic} is not created"
        policy = configs.get(topic, {}).get("cleanup.policy")
        found = re.search(r"cleanup\.policy=([a-z,]+)", line.group(0))
        assert (found and found.group(1)) == (policy or None), f"{topic}: cleanup.policy should be {policy}"


def test_dockerfiles_install_cpu_torch_then_the_project():
    cpu = (REPO / "Dockerfile").read_text()
    assert cpu.startswith("#") and "FROM python:3.11-slim" in cpu
    assert cpu.index("torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu") < cpu.index(
        "pip install --constraint constraints.txt .")
    gpu = (REPO / "Dockerfile.gpu").read_text()
    assert re.search(r"^FROM nvidia/cuda:\S+-runtime-", gpu, re.M)
    assert "pip install --constraint constraints.txt '.[gpu]'" in gpu
    for text in (cpu, gpu):  # a production image needs neither the embedded broker nor the plots
        assert "[embedded" not in text and "plots]" not in text and ",plots" not in text
    ignored = (REPO / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.gpu"])
def test_images_install_every_system_library_lightgbm_links(dockerfile):
    import lightgbm

    library = Path(lightgbm.__file__).parent / "lib" / "lib_lightgbm.so"
    if not library.is_file() or shutil.which("ldd") is None:
        pytest.skip("no lib_lightgbm.so or no ldd here")
    linked = subprocess.run(["ldd", str(library)], capture_output=True, text=True, check=True).stdout
    text = (REPO / dockerfile).read_text()
    system = {"libgomp.so.1": "libgomp1"}  # what the base images lack → its Debian/Ubuntu package
    for soname, package in system.items():
        if soname in linked:
            assert re.search(rf"apt-get install[^\n]*(\\\n[^\n]*)*\b{package}\b", text), f"{dockerfile}: install {package}"


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.gpu"])
def test_dockerfile_copies_only_what_exists_and_is_not_ignored(dockerfile):
    ignored = [line for line in (REPO / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    for line in (REPO / dockerfile).read_text().splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            *sources, _ = line.split()[1:]
            for source in sources:
                assert (REPO / source).exists(), f"{dockerfile}: COPY {source} does not exist"
                top = source.split("/")[0]
                excluded = top in ignored or f"{top}/*" in ignored
                assert not excluded or f"!{'/'.join(source.split('/')[:2])}" in ignored, f"{source} is in .dockerignore"


def test_entrypoint_runs_streamrec_with_the_given_arguments(tmp_path):
    # a stand-in `streamrec` shows what the real one would be started with
    stub = tmp_path / "streamrec"
    stub.write_text('#!/bin/sh\necho "streamrec $*"\n')
    stub.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    script = REPO / "deploy" / "docker" / "entrypoint.sh"
    out = subprocess.run([str(script), "worker"], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "streamrec worker"


def test_a_worker_bound_to_all_interfaces_advertises_a_reachable_address(tmp_path):
    # Faust routes /recommendations to the partition owner by its canonical URL: never http://0.0.0.0
    from streams.runtime.app import create_app
    from streams.settings import Settings

    settings = Settings(web_host="0.0.0.0", web_port=7001, data_dir=tmp_path)
    host = settings.advertised_web_host()
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", host) and host != "0.0.0.0"
    app, _, _ = create_app(settings)
    assert str(app.conf.canonical_url) == f"http://{host}:7001"
    named = Settings(web_host="0.0.0.0", advertised_host="worker-2.shop.internal", data_dir=tmp_path)
    assert named.advertised_web_host() == "worker-2.shop.internal"


# -- Prometheus ----------------------------------------------------------------------------------------

def test_prometheus_config_passes_promtool():
    result = subprocess.run([promtool(), "check", "config", str(PROMETHEUS_YML)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_discovers_worker_replicas_by_dns(compose):
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    sd = jobs["streamrec"]["dns_sd_configs"][0]
    assert sd["type"] == "A" and sd["port"] == 6066 and sd["names"] == ["worker"]
    assert jobs["streamrec"]["metrics_path"] == "/metrics"
    assert jobs["streamrec-encoder"]["dns_sd_configs"][0]["names"] == ["encoder-gpu"]
    mount = next(v for v in compose["services"]["prometheus"]["volumes"] if v.startswith("./deploy/prometheus"))
    assert mount.split(":")[1] == "/etc/prometheus/prometheus.yml"


# -- Grafana -------------------------------------------------------------------------------------------

def test_grafana_provisioning_points_at_prometheus_and_the_dashboards(compose):
    datasource = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())["datasources"][0]
    assert datasource["type"] == "prometheus" and datasource["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "streamrec.yml").read_text())["providers"][0]
    mounts = dict(v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"])
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    for path in DASHBOARDS.glob("*.json"):
        for panel in json.loads(path.read_text())["panels"]:
            assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]


def test_metric_name_parser_sees_through_promql():
    expr = 'histogram_quantile(0.99, sum by (le, instance) (rate(a_seconds_bucket{job="x"}[$__rate_interval]))) / on(instance) b_total or vector(0)'
    assert metric_names(expr) == {"a_seconds_bucket", "b_total"}


def test_dashboard_names_only_metrics_that_exist(sample_names):
    exprs = dashboard_exprs()
    assert len(exprs) >= 20
    used = set()
    for where, expr in exprs:
        names = metric_names(expr)
        assert names, f"{where}: no metric in {expr!r}"
        unknown = names - sample_names
        assert not unknown, f"{where}: {sorted(unknown)} are not registered by streams.metrics.Metrics"
        used |= names
    # the dashboard shows what the brief asks for: throughput, latency, dead letters, lag, index size,
    # encoder throughput, freshness, explanation integrity
    for required in ("streamrec_recommendations_published_total", "streamrec_event_to_recommendation_seconds_bucket",
                     "streamrec_dead_letters_total", "streamrec_consumer_lag", "streamrec_index_items",
                     "streamrec_encoder_texts_total", "streamrec_item_freshness_seconds_bucket",
                     "streamrec_profile_freshness_seconds_bucket", "streamrec_explanation_integrity_violations_total"):
        assert required in used, required
    assert any(expr.startswith("histogram_quantile(0.99") for _, expr in exprs)


def test_dashboard_promql_parses(tmp_path):
    # promtool has no "check expression"; a rules file with every expression as a recording rule is checked the same way
    rules = [{"record": f"streamrec:dashboard:{n}", "expr": expr.replace("$__rate_interval", "1m")}
             for n, (_, expr) in enumerate(dashboard_exprs())]
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_pass_promtool_and_name_only_real_metrics(sample_names):
    path = REPO / "deploy" / "prometheus" / "alerts.yml"
    result = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    rules = [r for group in yaml.safe_load(path.read_text())["groups"] for r in group["rules"]]
    assert any("streamrec_explanation_integrity_violations_total" in r["expr"] for r in rules)
    for rule in rules:
        unknown = metric_names(rule["expr"]) - sample_names - {"up"}  # `up` is Prometheus's own per target
        assert not unknown, f"{rule['alert']}: {sorted(unknown)}"


# -- the sample shop the walk-through publishes -----------------------------------------------------------

def test_sample_files_satisfy_the_wire_contract():
    from streams.core.records import parse_event, parse_item

    sample = REPO / "deploy" / "sample"
    items = [parse_item(None, line) for line in (sample / "catalogue.jsonl").read_bytes().splitlines()]
    events = [parse_event(json.loads(line)["user_id"].encode(), line)  # `streamrec produce` keys them so
              for line in (sample / "events.jsonl").read_bytes().splitlines()]
    assert len(items) >= 100 and len(events) >= 50
    ids = {item.item_id for item in items}
    assert {e.item_id for e in events if e.item_id is not None} <= ids, "events touch only catalogue items"


def test_compose_publishes_ports_on_loopback_unless_told_and_grafana_needs_a_password(compose):
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("${BIND_HOST:-127.0.0.1}:"), f"{name} publishes {port} on every interface"
    grafana = compose["services"]["grafana"]["environment"]
    password = grafana["GF_SECURITY_ADMIN_PASSWORD"]
    # ${VAR:?message}: compose refuses to start without it, so Grafana never runs with admin/admin
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}", password), password


def test_dashboard_headline_index_size_ignores_encoder_only_workers():
    dashboard = json.loads((DASHBOARDS / "streamrec.json").read_text())
    headline = next(p for p in dashboard["panels"] if p["title"] == "Items in index")
    expr = headline["targets"][0]["expr"]
    assert 'streamrec_build_info{role!="encoder"}' in expr and expr.startswith("min(")
