"""The monitoring configuration agrees with the metrics, the compose files and itself.

No Docker engine runs on the development machine, so Prometheus, Grafana and Jaeger are
never started here. These tests read the files instead:

* with `promtool` on PATH (Debian package `prometheus`), `promtool check config`,
  `promtool check rules` and `promtool test rules monitoring/alerts_test.yml` (which proves
  that StageDown, CircuitOpen and HighErrorRate fire); skipped when promtool is absent;
* always: every scrape target is a compose service on the port it serves metrics on, every
  metric named in the alerts and in the dashboard's PromQL is one Callytics exports, every
  alert has a severity and a summary, the dashboard's panel ids are unique and its
  datasource is the provisioned one, and the monitoring overlay mounts these files.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bootstrap.settings import Settings
from tests.unit.test_deploy_files import argv, assert_runs_a_command, default_port, option

ROOT = Path(__file__).resolve().parents[2]
MON = ROOT / "monitoring"
PROMETHEUS = MON / "prometheus.yml"
ALERTS = MON / "alerts.yml"
ALERTS_TEST = MON / "alerts_test.yml"
DATASOURCES = MON / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
PROVIDERS = MON / "grafana" / "provisioning" / "dashboards" / "callytics.yml"
DASHBOARD = MON / "grafana" / "dashboards" / "callytics.json"
BASE = "docker-compose.yml"
MICRO = "docker-compose.microservices.yml"
MONITORING = "docker-compose.monitoring.yml"
STAGES = ("diarization", "asr", "sentiment", "embedding", "llm")
SETTINGS = {name.upper() for name in Settings.model_fields}
WORKER_METRICS_PORT = 9100
STAGE_METRICS_OFFSET = 1000

# Every metric Callytics exports (bootstrap/prometheus.py and the stage services).
METRICS = {
    "callytics_http_requests_total",
    "callytics_http_request_duration_seconds",
    "callytics_jobs_total",
    "callytics_job_duration_seconds",
    "callytics_stage_duration_seconds",
    "callytics_audio_seconds_total",
    "callytics_queue_depth",
    "callytics_jobs_running",
    "callytics_cache_requests_total",
    "callytics_grpc_client_errors_total",
    "callytics_circuit_state",
    "callytics_model_load_seconds",
    "callytics_stage_requests_total",
    "callytics_stage_request_duration_seconds",
}
HISTOGRAMS = {
    "callytics_http_request_duration_seconds",
    "callytics_job_duration_seconds",
    "callytics_stage_duration_seconds",
    "callytics_stage_request_duration_seconds",
}
SEVERITIES = {"critical", "warning", "info"}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def compose_services(name: str) -> dict[str, dict[str, Any]]:
    data = yaml.safe_load((ROOT / name).read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), name
    return data["services"]


def merge(a: Any, b: Any) -> Any:
    """docker compose's merge of -f files: mappings merge, everything else replaces."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for key, value in b.items():
            out[key] = merge(a[key], value) if key in a else value
        return out
    return b


def full_stack() -> dict[str, dict[str, Any]]:
    """The services of `-f BASE -f MICRO -f MONITORING`."""
    return merge(
        merge(compose_services(BASE), compose_services(MICRO)), compose_services(MONITORING)
    )


def environment(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.partition("=") for item in env)
        return {key: (value if sep else None) for key, sep, value in pairs}
    return dict(env)


def metric_names(promql: str) -> set[str]:
    """The callytics_* metrics a PromQL expression reads (histogram suffixes stripped)."""
    names = set()
    for token in re.findall(r"\bcallytics_[a-z_]+", promql):
        for suffix in ("_bucket", "_sum", "_count"):
            base = token.removesuffix(suffix)
            if base != token and base in HISTOGRAMS:
                token = base
                break
        names.add(token)
    return names


def scrape_jobs() -> dict[str, dict[str, Any]]:
    config = load_yaml(PROMETHEUS)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert len(jobs) == len(config["scrape_configs"]), "duplicate job_name"
    return jobs


def targets(job: dict[str, Any]) -> list[str]:
    assert set(job) <= {
        "job_name",
        "metrics_path",
        "static_configs",
        "scrape_interval",
        "scrape_timeout",
    }, job["job_name"]
    return [t for sc in job["static_configs"] for t in sc["targets"]]


def alert_rules() -> list[dict[str, Any]]:
    groups = load_yaml(ALERTS)["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert rules and all("alert" in r for r in rules)
    return rules


def alert(name: str) -> dict[str, Any]:
    (rule,) = [r for r in alert_rules() if r["alert"] == name]
    return rule


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def all_panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for panel in panels:
        out.append(panel)
        out.extend(all_panels(panel.get("panels", [])))
    return out


def query_panels() -> list[dict[str, Any]]:
    return [p for p in all_panels(dashboard()["panels"]) if p.get("type") != "row"]


def datasource_uid() -> str:
    (source,) = load_yaml(DATASOURCES)["datasources"]
    return source["uid"]


def bind_mounts(service: dict[str, Any]) -> dict[str, str]:
    """host path (relative to the repository) -> container path, read-only flag dropped."""
    out = {}
    for mount in service.get("volumes", []):
        source, _, rest = str(mount).partition(":")
        if source.startswith("./"):
            out[source[2:]] = rest.split(":")[0]
    return out


# --- promtool --------------------------------------------------------------------------------

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not on PATH (apt-get install prometheus)"
)


def promtool(*args: str) -> None:
    assert PROMTOOL
    run = subprocess.run([PROMTOOL, *args], cwd=MON, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, f"promtool {' '.join(args)}:\n{run.stdout}\n{run.stderr}"


@needs_promtool
def test_promtool_check_config():
    promtool("check", "config", PROMETHEUS.name)  # checks alerts.yml through rule_files too


@needs_promtool
def test_promtool_check_rules():
    promtool("check", "rules", ALERTS.name)


@needs_promtool
def test_promtool_test_rules():
    promtool("test", "rules", ALERTS_TEST.name)


def test_alerts_unit_tests_cover_stage_down_and_circuit_open():
    text = ALERTS_TEST.read_text()
    assert load_yaml(ALERTS_TEST)["rule_files"] == [ALERTS.name]
    for name in ("StageDown", "CircuitOpen"):
        assert f"alertname: {name}" in text


# --- the metric-name check itself ------------------------------------------------------------


def test_metric_names_strips_only_histogram_suffixes():
    expr = (
        "histogram_quantile(0.95, sum by (le) (rate(callytics_job_duration_seconds_bucket[5m])))"
        ' / callytics_jobs_total + callytics_queue_depth_count + callytics_nope{a="b"}'
    )
    assert metric_names(expr) == {
        "callytics_job_duration_seconds",
        "callytics_jobs_total",
        "callytics_queue_depth_count",  # not a histogram: kept, and not in METRICS
        "callytics_nope",
    }
    assert not metric_names(expr) <= METRICS


# --- prometheus.yml --------------------------------------------------------------------------


def test_prometheus_global_and_rule_files():
    config = load_yaml(PROMETHEUS)
    assert config["rule_files"] == ["alerts.yml"]
    assert (PROMETHEUS.parent / "alerts.yml").is_file()
    interval = config["global"]["scrape_interval"]
    match = re.fullmatch(r"(\d+)s", interval)
    assert match and 5 <= int(match.group(1)) <= 60, interval
    assert config["global"]["evaluation_interval"] == interval


def test_one_scrape_job_per_component():
    jobs = scrape_jobs()
    expected = {"api", "worker", *(f"stage-{s}" for s in STAGES)}
    assert expected <= set(jobs)
    assert set(jobs) - expected <= {"prometheus"}
    for name in expected:
        assert len(targets(jobs[name])) == 1, name


def test_scrape_targets_are_compose_services_on_their_metrics_ports():
    stack = full_stack()
    jobs = scrape_jobs()
    expected_ports = {
        "api": int(option(argv(stack["api"]["command"]), "--port")),
        "worker": int(option(argv(stack["worker"]["command"]), "--metrics-port")),
        **{f"stage-{s}": int(default_port(s)) + STAGE_METRICS_OFFSET for s in STAGES},
    }
    assert expected_ports["worker"] == WORKER_METRICS_PORT
    assert expected_ports["stage-diarization"] == 51051
    for name, port in expected_ports.items():
        (target,) = targets(jobs[name])
        host, _, target_port = target.rpartition(":")
        assert host in stack, f"{name}: {host} is not a compose service"
        assert int(target_port) == port, f"{name}: {target} (expected port {port})"
        if name.startswith("stage-"):
            assert host == name.removeprefix("stage-")
            # The stage's gRPC port (from its command) + 1000.
            grpc_port = int(option(argv(stack[host]["command"]), "--port"))
            assert int(target_port) == grpc_port + STAGE_METRICS_OFFSET
    assert jobs["api"].get("metrics_path", "/metrics") == "/metrics"
    if "prometheus" in jobs:
        assert targets(jobs["prometheus"]) == ["localhost:9090"]


# --- alerts.yml ------------------------------------------------------------------------------


def test_every_alert_has_severity_summary_and_description():
    rules = alert_rules()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names)), "duplicate alert names"
    for rule in rules:
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["description"].strip(), rule["alert"]
        assert re.fullmatch(r"\d+[smh]", str(rule["for"])), rule["alert"]


def test_alerts_read_only_known_metrics():
    for rule in alert_rules():
        used = metric_names(rule["expr"])
        assert used <= METRICS, f"{rule['alert']}: unknown metrics {sorted(used - METRICS)}"


def test_required_alerts():
    names = {r["alert"] for r in alert_rules()}
    assert {
        "StageDown",
        "ApiDown",
        "WorkerDown",
        "CircuitOpen",
        "HighErrorRate",
        "HighJobFailureRate",
        "QueueBackingUp",
        "SlowJobs",
    } <= names

    stage_down = alert("StageDown")
    assert re.sub(r"\s+", "", stage_down["expr"]) == 'up{job=~"stage-.*"}==0'
    assert stage_down["for"] == "1m"
    # The regex matches exactly the stage jobs of prometheus.yml.
    jobs = set(scrape_jobs())
    assert {j for j in jobs if re.fullmatch("stage-.*", j)} == {f"stage-{s}" for s in STAGES}
    assert 'job="api"' in alert("ApiDown")["expr"]
    assert 'job="worker"' in alert("WorkerDown")["expr"]

    circuit = alert("CircuitOpen")
    assert re.sub(r"\s+", "", circuit["expr"]) == "callytics_circuit_state==2"
    assert circuit["for"] == "1m"

    errors = alert("HighErrorRate")["expr"]
    assert 'status=~"5.."' in errors and "[5m]" in errors and "0.05" in errors
    assert metric_names(errors) == {"callytics_http_requests_total"}
    failures = alert("HighJobFailureRate")["expr"]
    assert 'outcome="failed"' in failures
    assert metric_names(failures) == {"callytics_jobs_total"}

    queue = alert("QueueBackingUp")
    assert metric_names(queue["expr"]) == {"callytics_queue_depth"}
    assert queue["for"] == "10m"

    slow = alert("SlowJobs")["expr"]
    assert "histogram_quantile(0.95" in slow.replace(" ", "")
    assert "callytics_job_duration_seconds_bucket" in slow and "[15m]" in slow


# --- Grafana ---------------------------------------------------------------------------------


def test_grafana_datasource_is_the_compose_prometheus():
    (source,) = load_yaml(DATASOURCES)["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert "9090:9090" in [str(p) for p in full_stack()["prometheus"]["ports"]]


def test_dashboard_provider_points_at_the_mounted_dashboards():
    (provider,) = load_yaml(PROVIDERS)["providers"]
    assert provider["type"] == "file"
    mounts = bind_mounts(full_stack()["grafana"])
    assert mounts["monitoring/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["monitoring/grafana/provisioning"] == "/etc/grafana/provisioning"


def test_dashboard_identity_and_unique_panel_ids():
    board = dashboard()
    assert board["uid"] == "callytics"
    assert 36 <= board["schemaVersion"] <= 41
    ids = [p["id"] for p in all_panels(board["panels"])]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    positions = [tuple(p["gridPos"].values()) for p in all_panels(board["panels"])]
    assert len(positions) == len(set(positions)), "panels on top of each other"


def test_dashboard_queries_use_known_metrics_and_the_provisioned_datasource():
    uid = datasource_uid()
    used: set[str] = set()
    panels = query_panels()
    assert len(panels) >= 12
    for panel in panels:
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid, panel["title"]
            names = metric_names(target["expr"])
            assert names or "up{" in target["expr"], f"{panel['title']}: reads no metric"
            assert names <= METRICS, f"{panel['title']}: unknown {sorted(names - METRICS)}"
            used |= names
    # Every exported metric is on the dashboard somewhere.
    assert used == METRICS, f"not on the dashboard: {sorted(METRICS - used)}"


def test_dashboard_has_the_requested_panels():
    exprs = {p["title"]: " ".join(t["expr"] for t in p["targets"]) for p in query_panels()}

    def panel_reading(metric: str, *fragments: str) -> None:
        hits = [
            title
            for title, expr in exprs.items()
            if metric in expr and all(f in expr.replace(" ", "") for f in fragments)
        ]
        assert hits, f"no panel reads {metric} with {fragments}"

    panel_reading("callytics_http_requests_total", "by(route)")
    panel_reading(
        "callytics_http_request_duration_seconds_bucket", "histogram_quantile(0.95", "route"
    )
    panel_reading("callytics_jobs_total", "by(outcome)")
    panel_reading("callytics_job_duration_seconds_bucket", "histogram_quantile(0.95")
    panel_reading(
        "callytics_stage_duration_seconds_bucket", "histogram_quantile(0.95", "stage,backend"
    )
    panel_reading("callytics_queue_depth")
    panel_reading("callytics_jobs_running")
    panel_reading("callytics_cache_requests_total", 'result="hit"', "by(tier)")
    panel_reading("callytics_grpc_client_errors_total", "by(stage,code)")
    panel_reading("callytics_circuit_state", "by(stage)")
    panel_reading("callytics_audio_seconds_total", "/3600")
    panel_reading("callytics_model_load_seconds", "stage,backend")
    panel_reading("callytics_stage_requests_total", "by(stage")
    panel_reading("callytics_stage_request_duration_seconds_bucket", "histogram_quantile(0.95")


# --- docker-compose.monitoring.yml -----------------------------------------------------------


def test_monitoring_overlay_services():
    overlay = compose_services(MONITORING)
    assert {"prometheus", "grafana", "jaeger"} <= set(overlay)
    assert str(overlay["prometheus"]["image"]).startswith("prom/prometheus:")
    assert str(overlay["grafana"]["image"]).startswith("grafana/grafana:")
    assert str(overlay["jaeger"]["image"]).startswith("jaegertracing/all-in-one:")

    prom_mounts = bind_mounts(overlay["prometheus"])
    assert prom_mounts["monitoring/prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    # rule_files is relative to prometheus.yml: alerts.yml sits next to it in the container.
    assert prom_mounts["monitoring/alerts.yml"] == "/etc/prometheus/alerts.yml"
    assert "--config.file=/etc/prometheus/prometheus.yml" in overlay["prometheus"]["command"]

    grafana_env = environment(overlay["grafana"])
    anonymous = str(grafana_env.get("GF_AUTH_ANONYMOUS_ENABLED")).lower() == "true"
    assert anonymous or grafana_env.get("GF_SECURITY_ADMIN_PASSWORD")
    assert "3000:3000" in [str(p) for p in overlay["grafana"]["ports"]]

    jaeger = overlay["jaeger"]
    assert str(environment(jaeger)["COLLECTOR_OTLP_ENABLED"]).lower() == "true"
    ports = [str(p) for p in jaeger["ports"]]
    assert "4317:4317" in ports and "16686:16686" in ports

    for service in overlay.values():
        for source in bind_mounts(service):
            assert (ROOT / source).exists(), source


def test_monitoring_overlay_volumes_are_declared():
    data = yaml.safe_load((ROOT / MONITORING).read_text())
    declared = set(data.get("volumes") or {})
    used = {
        str(mount).split(":")[0]
        for spec in data["services"].values()
        for mount in spec.get("volumes", [])
        if not str(mount).startswith((".", "/", "~"))
    }
    assert used and used <= declared


@pytest.mark.parametrize("client", ["api", "worker"])
def test_api_and_worker_export_traces_to_jaeger(client):
    spec = compose_services(MONITORING)[client]
    env = environment(spec)
    assert set(env) <= SETTINGS, f"not settings: {sorted(set(env) - SETTINGS)}"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4317"
    # Only the environment, the worker's command and its port change; the base file's stay.
    assert set(spec) <= {"environment", "depends_on", "command", "expose"}
    merged = full_stack()[client]
    assert environment(merged)["JOB_BACKEND"] == "arq"
    assert environment(merged)["USE_ASR_MS"] == "true"  # the microservices overlay's, kept


def test_worker_serves_metrics_on_9100():
    spec = compose_services(MONITORING)["worker"]
    args = argv(spec["command"])
    assert args[:2] == ["callytics", "worker"]
    assert int(option(args, "--metrics-port")) == WORKER_METRICS_PORT
    assert [str(p) for p in spec["expose"]] == [str(WORKER_METRICS_PORT)]


def test_worker_metrics_command_parses():
    """`callytics worker --metrics-port 9100` is accepted by the real CLI."""
    assert_runs_a_command(
        argv(compose_services(MONITORING)["worker"]["command"]), f"{MONITORING} worker"
    )
