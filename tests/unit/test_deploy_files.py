"""The Docker and compose files agree with the code.

No Docker engine runs on the development machine, so the images are never built here.
These tests read the files instead: every setting they name is a real setting, every
`callytics` command they run exists and accepts those arguments, the stage services listen
on the ports of the default gRPC targets, and the microservices overlay wires all five
stages into the API and the worker.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from bootstrap.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BASE = "docker-compose.yml"
OVERLAY = "docker-compose.microservices.yml"
ENV_FILE = ".env.microservices"
STAGES = ("diarization", "asr", "sentiment", "embedding", "llm")
GPU_STAGES = {"diarization", "asr"}
SETTINGS = {name.upper() for name in Settings.model_fields}


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / name).read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), name
    return data


def services(name: str) -> dict[str, dict[str, Any]]:
    return load(name)["services"]


def merged_services() -> dict[str, dict[str, Any]]:
    """The services of `docker compose -f BASE -f OVERLAY`: mappings merge, the rest replaces."""

    def merge(a: Any, b: Any) -> Any:
        if isinstance(a, dict) and isinstance(b, dict):
            out = dict(a)
            for key, value in b.items():
                out[key] = merge(a[key], value) if key in a else value
            return out
        return b

    return merge(services(BASE), services(OVERLAY))


def ours(service: dict[str, Any]) -> bool:
    """Built from this repository (not postgres or redis)."""
    return "build" in service or str(service.get("image", "")).startswith("callytics")


def environment(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.partition("=") for item in env)
        return {key: (value if sep else None) for key, sep, value in pairs}
    return dict(env)


def argv(command: Any) -> list[str]:
    return [str(a) for a in command] if isinstance(command, list) else shlex.split(command)


def option(args: list[str], name: str) -> str:
    assert name in args, f"{name} missing from {args}"
    return args[args.index(name) + 1]


def default_port(stage: str) -> str:
    target = Settings.model_fields[f"{stage}_grpc_target"].default
    return target.rsplit(":", 1)[1]


def seconds(duration: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", str(duration))
    assert parts and "".join(n + u for n, u in parts) == str(duration), duration
    return sum(float(n) * units[u] for n, u in parts)


def cli_commands() -> dict[str, Any]:
    """The commands of the Typer app in api/cli.py, as (Typer's own) click commands."""
    import api.cli

    group = typer.main.get_command(api.cli.app)
    commands = getattr(group, "commands", None)
    assert isinstance(commands, dict) and commands, "api.cli.app has no sub-commands"
    return dict(commands)


# Typer vendors its own click: reach its ClickException through a public class.
CLICK_EXCEPTION: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


def assert_runs_a_command(args: list[str], where: str) -> None:
    """`callytics <command> ...` names a registered command, and its arguments parse."""
    assert args[:1] == ["callytics"], f"{where}: {args}"
    commands = cli_commands()
    assert len(args) > 1 and args[1] in commands, (
        f"{where}: `callytics {args[1] if len(args) > 1 else ''}` is not a command "
        f"(have {sorted(commands)})"
    )
    try:
        commands[args[1]].make_context(args[1], args[2:])
    except CLICK_EXCEPTION as exc:
        pytest.fail(f"{where}: `{shlex.join(args)}` does not parse: {exc}")
    if args[1] == "stage":
        assert args[2] in STAGES, f"{where}: no stage {args[2]!r}"


def dockerfile_cmd(name: str) -> list[str]:
    lines = [ln for ln in (ROOT / name).read_text().splitlines() if ln.startswith("CMD ")]
    assert len(lines) == 1, f"{name}: one CMD line expected"
    cmd = json.loads(lines[0][len("CMD ") :])  # exec form only
    assert isinstance(cmd, list)
    return cmd


SERVICE_COMMANDS = [
    (name, service)
    for name in (BASE, OVERLAY)
    for service, spec in services(name).items()
    if "command" in spec
]


# --- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [BASE, OVERLAY])
def test_compose_environment_names_are_settings(name):
    checked = 0
    for service, spec in services(name).items():
        if not ours(spec):
            continue
        unknown = set(environment(spec)) - SETTINGS
        assert unknown == set(), f"{name} {service}: not settings: {sorted(unknown)}"
        checked += len(environment(spec))
    assert checked > 0


def test_env_microservices_names_only_settings_and_flips_every_stage():
    text = (ROOT / ENV_FILE).read_text()
    named = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.M))
    assert named - SETTINGS == set(), f"{ENV_FILE} names settings that do not exist"
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, flags=re.M))
    overlay = services(OVERLAY)
    for stage in STAGES:
        assert values[f"USE_{stage.upper()}_MS"] == "true"
        target = values[f"{stage.upper()}_GRPC_TARGET"]
        assert target == f"{stage}:{default_port(stage)}"
        assert target.split(":")[0] in overlay
    assert values["JOB_BACKEND"] == "arq"
    assert values["REDIS_URL"].startswith("redis://redis:")
    assert values["DATABASE_URL"].startswith("postgresql://")
    # The values parse as settings.
    Settings.model_validate({k.lower(): v for k, v in values.items()})


# --- commands ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "service"), SERVICE_COMMANDS)
def test_compose_commands_exist(name, service):
    spec = services(name)[service]
    assert_runs_a_command(argv(spec["command"]), f"{name} {service}")


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.gpu"])
def test_dockerfile_cmd_names_a_command(name):
    assert_runs_a_command(dockerfile_cmd(name), name)


def test_dockerfile_cmds():
    assert dockerfile_cmd("Dockerfile") == [
        "callytics",
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
    ]
    gpu = dockerfile_cmd("Dockerfile.gpu")
    assert gpu[:3] == ["callytics", "stage", "asr"]
    assert option(gpu, "--port") == default_port("asr")


def test_health_check_module_exists():
    assert importlib.util.find_spec("shared.stubs.health_check") is not None


# --- the monolith stack ----------------------------------------------------------------------


def test_monolith_stack():
    compose = load(BASE)
    svc = compose["services"]
    assert {"api", "worker", "postgres", "redis"} <= set(svc)
    assert argv(svc["api"]["command"])[:2] == ["callytics", "serve"]
    assert argv(svc["worker"]["command"]) == ["callytics", "worker"]
    assert "8000:8000" in [str(p) for p in svc["api"]["ports"]]
    assert svc["postgres"]["image"] == "postgres:15"
    assert str(svc["redis"]["image"]).startswith("redis:7")
    assert "pg_isready" in " ".join(argv(svc["postgres"]["healthcheck"]["test"]))
    assert "redis-cli ping" in " ".join(argv(svc["redis"]["healthcheck"]["test"]))
    assert "/health/live" in " ".join(argv(svc["api"]["healthcheck"]["test"]))
    for name in ("api", "worker"):
        env = environment(svc[name])
        assert env["DATABASE_URL"] == "postgresql://callytics:callytics@postgres:5432/callytics"
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["JOB_BACKEND"] == "arq"
        for dep in ("postgres", "redis"):
            assert svc[name]["depends_on"][dep]["condition"] == "service_healthy"
        assert svc[name]["image"] == svc["api"]["image"]
    assert set(compose["volumes"]) >= {"pgdata", "audio", "models"}
    assert any(str(v).startswith("pgdata:") for v in svc["postgres"]["volumes"])


def named_volume_at(service: dict[str, Any], path: str) -> str | None:
    for mount in service.get("volumes", []):
        source, _, target = str(mount).partition(":")
        if target.split(":")[0] == path and not source.startswith((".", "/")):
            return source
    return None


def test_api_and_worker_share_the_audio_volume():
    svc = services(BASE)
    volumes = set()
    for name in ("api", "worker"):
        storage = environment(svc[name])["STORAGE_DIR"]
        volume = named_volume_at(svc[name], storage)
        assert volume, f"{name}: STORAGE_DIR {storage} is not on a named volume"
        volumes.add(volume)
    assert len(volumes) == 1


@pytest.mark.parametrize("name", [BASE, OVERLAY])
def test_named_volumes_are_declared(name):
    declared = set(load(name).get("volumes") or {})
    used = {
        str(mount).split(":")[0]
        for spec in services(name).values()
        for mount in spec.get("volumes", [])
        if not str(mount).startswith((".", "/", "~"))
    }
    assert used and used <= declared, f"{name}: undeclared volumes {sorted(used - declared)}"


def test_model_cache_is_a_named_volume_everywhere():
    merged = merged_services()
    built = [name for name, spec in merged.items() if ours(spec)]
    assert set(built) == {"api", "worker", *STAGES}
    for name in built:
        cache = environment(merged[name])["MODEL_CACHE_DIR"]
        assert named_volume_at(merged[name], cache) == "models", name


# --- the microservices overlay -----------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_stage_service(stage):
    spec = services(OVERLAY)[stage]
    port = default_port(stage)
    args = argv(spec["command"])
    assert args[:3] == ["callytics", "stage", stage]
    assert option(args, "--host") == "0.0.0.0"
    assert option(args, "--port") == port
    assert [str(p) for p in spec.get("expose", [])] == [port]
    assert spec["healthcheck"]["test"] == [
        "CMD",
        "python",
        "-m",
        "shared.stubs.health_check",
        f"localhost:{port}",
    ]
    minimum = 300 if stage in GPU_STAGES else 120
    assert seconds(spec["healthcheck"]["start_period"]) >= minimum
    dockerfile = "Dockerfile.gpu" if stage in GPU_STAGES else "Dockerfile"
    assert spec["build"]["dockerfile"] == dockerfile


@pytest.mark.parametrize("client", ["api", "worker"])
def test_overlay_makes_every_stage_remote(client):
    overlay = services(OVERLAY)
    env = environment(overlay[client])
    for stage in STAGES:
        assert str(env[f"USE_{stage.upper()}_MS"]).lower() == "true", stage
        host, port = env[f"{stage.upper()}_GRPC_TARGET"].split(":")
        assert (host, port) == (stage, default_port(stage))
        assert overlay[client]["depends_on"][stage] == {"condition": "service_healthy"}
    merged = merged_services()[client]
    assert environment(merged)["JOB_BACKEND"] == "arq"  # the base file's, kept
    assert merged["depends_on"]["postgres"]["condition"] == "service_healthy"


def gpu_reservations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    devices = spec.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
    return [d for d in devices if d.get("driver") == "nvidia" or "gpu" in d.get("capabilities", [])]


def test_gpu_reservations_exactly_on_diarization_and_asr():
    merged = merged_services()
    with_gpu = {name for name, spec in merged.items() if gpu_reservations(spec)}
    assert with_gpu == GPU_STAGES
    for name in GPU_STAGES:
        (device,) = gpu_reservations(merged[name])
        assert device["driver"] == "nvidia"
        assert device["count"] == 1
        assert device["capabilities"] == ["gpu"]
    assert environment(merged["asr"])["ASR_DEVICE"] == "cuda"


@pytest.mark.parametrize("name", [BASE, OVERLAY])
def test_every_healthcheck_has_a_start_period(name):
    checks = {s: spec["healthcheck"] for s, spec in services(name).items() if "healthcheck" in spec}
    assert checks
    for service, check in checks.items():
        assert seconds(check["start_period"]) > 0, service
    if name == BASE:
        assert seconds(checks["api"]["start_period"]) >= 120  # model loading


@pytest.mark.parametrize("name", [BASE, OVERLAY])
def test_build_dockerfiles_exist(name):
    builds = [spec["build"] for spec in services(name).values() if "build" in spec]
    assert builds
    for build in builds:
        context = ROOT / build.get("context", ".")
        assert (context / build.get("dockerfile", "Dockerfile")).is_file(), build


# --- the Dockerfiles -----------------------------------------------------------------------------


def test_cpu_dockerfile():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, flags=re.M)
    users = re.findall(r"^USER (\S+)$", text, flags=re.M)
    assert users and users[-1] not in {"root", "0"}
    assert re.search(r"^EXPOSE 8000$", text, flags=re.M)
    assert re.search(r"pip install \.", text)


def test_gpu_dockerfile_installs_cuda_torch_first():
    text = (ROOT / "Dockerfile.gpu").read_text()
    base = re.search(r"^ARG CUDA_IMAGE=(\S+)$", text, flags=re.M)
    assert base and base.group(1).startswith("nvidia/cuda:") and "cudnn" in base.group(1)
    assert "runtime" in base.group(1)
    assert "python3.11" in text
    index = re.search(r"^ARG TORCH_INDEX_URL=(\S+)$", text, flags=re.M)
    assert index and re.match(r"https://download\.pytorch\.org/whl/cu\d+$", index.group(1))
    pin = re.search(r'"torch==([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert pin
    assert re.search(rf"^ARG TORCH_VERSION={re.escape(pin.group(1))}$", text, flags=re.M)
    torch_at = text.index('pip install "torch==${TORCH_VERSION}" --index-url')
    assert torch_at < text.index("RUN pip install .")
    users = re.findall(r"^USER (\S+)$", text, flags=re.M)
    assert users and users[-1] not in {"root", "0"}


def test_dockerignore_keeps_the_context_small():
    lines = set((ROOT / ".dockerignore").read_text().splitlines())
    assert {".git", ".venv*", "data", "models", "**/*.wav", "**/__pycache__"} <= lines
    assert "README.md" not in lines  # pyproject.toml's readme


def test_every_service_of_ours_needs_the_same_jwt_secret():
    """The API listens beyond loopback in a container, so the stack needs authentication:
    compose refuses to start without JWT_SECRET, and the stages get the same one."""
    merged = merged_services()
    built = [name for name, spec in merged.items() if ours(spec)]
    values = {str(environment(merged[name]).get("JWT_SECRET")) for name in built}
    assert len(values) == 1, values
    assert values.pop().startswith("${JWT_SECRET:?")
    assert re.search(r"^JWT_SECRET=", (ROOT / ENV_FILE).read_text(), flags=re.M)
