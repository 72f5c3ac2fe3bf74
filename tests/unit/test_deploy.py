"""Production files: docker-compose.yml, .env.example, the Dockerfile, the Caddy config
and the health endpoint they all rely on.

Docker cannot run on these machines, so the compose file is validated with Debian's
``docker-compose config`` and the wiring (variables, healthchecks, upstreams) is checked by
reading the files; the health endpoint and the container healthcheck script run for real.
"""

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import need_service

BASE_DIR = Path(__file__).resolve().parents[2]
COMPOSE_FILE = BASE_DIR / "docker-compose.yml"
ENV_EXAMPLE = BASE_DIR / ".env.example"
SETTINGS_FILE = BASE_DIR / "pause" / "settings.py"
CADDYFILE = BASE_DIR / "deploy" / "Caddyfile"
HEALTHCHECK = BASE_DIR / "deploy" / "healthcheck.py"

# Variables that docker-compose itself consumes, each with the service that reads it.
# Everything else in .env.example and in a Pause container's environment must be a
# variable pause/settings.py reads.
COMPOSE_ONLY = {"PAUSE_DOMAIN": "proxy", "POSTGRES_PASSWORD": "db"}
# What a filled-in .env holds; enough for `docker-compose config` to resolve every name.
COMPOSE_ENV = {
    "DJANGO_SECRET_KEY": "x" * 60,
    "DJANGO_ALLOWED_HOSTS": "pause.example.org",
    "PAUSE_DOMAIN": "pause.example.org",
    "POSTGRES_PASSWORD": "compose-test-password",
}
ENV_READ = re.compile(
    r"""(?:\benv(?:\.\w+)?\(\s*|os\.environ\.get\(\s*|os\.getenv\(\s*|os\.environ\[\s*)"""
    r"""["']([A-Z][A-Z0-9_]*)["']"""
)
ENV_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def settings_variables() -> set[str]:
    return set(ENV_READ.findall(SETTINGS_FILE.read_text()))


def env_example_variables() -> set[str]:
    """Names set or shown commented-out (``# NAME=...``) in .env.example."""
    return set(ENV_LINE.findall(ENV_EXAMPLE.read_text()))


def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def pause_services(config: dict) -> dict[str, dict]:
    """Services that run the Pause image (they are built from this repository)."""
    return {name: svc for name, svc in config["services"].items() if "build" in svc}


def web_services(config: dict) -> dict[str, dict]:
    return {
        name: svc
        for name, svc in pause_services(config).items()
        if "daphne" in str(svc.get("command")) or "uvicorn" in str(svc.get("command"))
    }


def docker_compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    if binary is None:
        need_service("docker-compose", "apt-get install -y docker-compose")
    clean_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/tmp", **env}
    return subprocess.run(
        [binary, "--project-directory", str(BASE_DIR), "-f", str(COMPOSE_FILE), *args],
        cwd=BASE_DIR,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- docker-compose.yml -----------------------------------------------------------------


def test_compose_file_is_valid_for_docker_compose():
    """`docker-compose config` accepts the file once .env holds the required values, and
    resolves the same services the file declares."""
    result = docker_compose("config", env=COMPOSE_ENV)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) == {"db", "redis", "migrate", "web1", "web2", "proxy"}
    web_env = resolved["services"]["web1"]["environment"]
    assert web_env["DJANGO_SECRET_KEY"] == COMPOSE_ENV["DJANGO_SECRET_KEY"]
    assert web_env["DATABASE_URL"] == "postgres://pause:compose-test-password@db:5432/pause"
    assert web_env["DJANGO_DEBUG"] == "false"


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "POSTGRES_PASSWORD"])
def test_compose_refuses_to_start_without_secrets(missing):
    """A missing secret stops docker-compose with a message naming it, instead of starting
    with an empty password or key."""
    env = {k: v for k, v in COMPOSE_ENV.items() if k != missing}
    result = docker_compose("config", env=env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_every_variable_passed_to_pause_is_read_by_the_settings():
    """Each variable that docker-compose passes to a Pause container is one the settings
    read (a misspelt name would otherwise be silently ignored)."""
    known = settings_variables()
    for name, service in pause_services(compose()).items():
        passed = set(service["environment"])
        assert passed, name
        assert passed <= known, f"{name} passes variables no setting reads: {passed - known}"


def test_compose_only_variables_go_to_the_services_that_use_them():
    """PAUSE_DOMAIN and POSTGRES_PASSWORD, which Django does not read, are used by the
    proxy and the database, and nothing else is passed to the proxy."""
    config = compose()
    text = COMPOSE_FILE.read_text()
    for variable, service in COMPOSE_ONLY.items():
        assert "${" + variable in text
        assert variable in str(config["services"][service]["environment"])
    assert set(config["services"]["proxy"]["environment"]) <= set(COMPOSE_ONLY)


def test_every_long_running_service_has_a_healthcheck():
    """Every service but the one-shot migrate declares a healthcheck, and the web processes
    wait for a successful migration and healthy services."""
    services = compose()["services"]
    for name, service in services.items():
        if name == "migrate":
            assert service["healthcheck"] == {"disable": True}
            assert service["restart"] == "no"
            continue
        assert service["healthcheck"]["test"], name
    for name in ("web1", "web2"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["db"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
    assert services["proxy"]["depends_on"]["web1"]["condition"] == "service_healthy"
    assert services["db"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")


def test_web_processes_share_one_command_with_the_websocket_frame_limit():
    """The web processes run one command (one YAML anchor to change the server): uvicorn,
    capping incoming WebSocket messages at 64 KiB."""
    config = compose()
    webs = web_services(config)
    assert set(webs) == {"web1", "web2"}
    commands = {str(svc["command"]) for svc in webs.values()}
    assert len(commands) == 1
    command = commands.pop()
    assert command.startswith("uvicorn ") and "--ws-max-size 65536" in command
    assert len(re.findall(r"^x-web-command: &web-command ", COMPOSE_FILE.read_text(), re.M)) == 1


def test_proxy_balances_every_web_process_and_checks_its_health():
    """The Caddy config sends traffic to every web service of the compose file and probes
    /healthz as an allowed host over HTTPS."""
    caddy = CADDYFILE.read_text()
    upstreams = re.search(r"^\s*reverse_proxy\s+([^{\n]+)\{", caddy, re.M).group(1).split()
    assert set(upstreams) == {f"{name}:8000" for name in web_services(compose())}
    assert "health_uri /healthz" in caddy
    assert "X-Forwarded-Proto https" in caddy
    assert "{$PAUSE_DOMAIN}" in caddy


# --- .env.example -----------------------------------------------------------------------


def test_env_example_documents_every_variable_the_settings_read():
    """Every variable pause/settings.py reads appears in .env.example."""
    missing = settings_variables() - env_example_variables()
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_env_example_holds_only_variables_something_reads():
    """Every name in .env.example is read by the settings or by docker-compose."""
    unknown = env_example_variables() - settings_variables() - set(COMPOSE_ONLY)
    assert not unknown, f"nothing reads: {sorted(unknown)}"


def test_env_example_leaves_secrets_empty():
    """The example never ships a usable secret or password."""
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(), re.M))
    assert values["DJANGO_SECRET_KEY"] == ""
    assert values["POSTGRES_PASSWORD"] == ""


def test_env_example_filled_in_gives_settings_that_pass_the_deploy_check(tmp_path):
    """The values .env.example ships parse, and once the secret is filled in and the
    services are set as docker-compose sets them, the deploy check finds nothing."""
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(), re.M))
    env = {name: value for name, value in values.items() if name not in COMPOSE_ONLY}
    env.update(
        {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "pause.settings",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": "postgres://pause:secret@db:5432/pause",
            "REDIS_URL": "redis://redis:6379/0",
        }
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_settings_variables_are_found_by_the_parser():
    """The parser these checks rely on sees the core variables (guards against a silent
    change in how settings.py reads the environment)."""
    assert {
        "DJANGO_SECRET_KEY",
        "DJANGO_DEBUG",
        "DJANGO_ALLOWED_HOSTS",
        "DATABASE_URL",
        "REDIS_URL",
        "EMAIL_URL",
        "DEFAULT_LANGUAGE",
    } <= settings_variables()


# --- Dockerfile -------------------------------------------------------------------------


def test_dockerfile_builds_a_non_root_image_that_serves_and_checks_itself():
    """The image is python:3.12-slim, runs as an unprivileged user, installs the locked
    requirements, builds translations and static files, and probes /healthz."""
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.12-slim AS runtime$", dockerfile, re.M)
    assert re.search(r"^FROM node:20\S* AS frontend$", dockerfile, re.M)
    users = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "-r requirements.txt" in dockerfile
    assert "compilemessages" in dockerfile
    assert "collectstatic" in dockerfile
    assert re.search(r"^HEALTHCHECK .*\n?.*deploy/healthcheck\.py", dockerfile, re.M)
    # daphne's limit caps outgoing frames too, so it must leave room for a large welcome.
    assert '"--websocket-max-message-size", "16777216"' in dockerfile
    assert "--websocket-max-message-size 16777216" in (BASE_DIR / "Makefile").read_text()
    dockerignore = (BASE_DIR / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".env", "var"} <= set(dockerignore)


# --- /healthz ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_health_endpoint_reports_ok_without_redis(client, settings):
    """/healthz answers 200 with the database checked and Redis skipped when unused."""
    settings.REDIS_URL = ""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "skipped"}}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_health_endpoint_checks_redis_when_configured(client, settings):
    """With REDIS_URL set, /healthz pings that Redis."""
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        need_service("Redis", f"start redis-server or set REDIS_URL (tried {url})")
    settings.REDIS_URL = url
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


@pytest.mark.django_db
def test_health_endpoint_answers_503_when_redis_is_down(client, settings):
    """An unreachable Redis makes /healthz answer 503, so the proxy takes the process out,
    without revealing the error."""
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "failed", "checks": {"database": "ok", "redis": "failed"}}


@pytest.mark.django_db
def test_health_endpoint_refuses_writes(client):
    """/healthz is read-only."""
    assert client.post("/healthz").status_code == 405


# --- The container healthcheck against a real server ------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_healthcheck(port: int) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PORT": str(port),
        "DJANGO_ALLOWED_HOSTS": "pause.example.org,www.pause.example.org",
    }
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK)], env=env, capture_output=True, text=True, timeout=20
    )


def test_container_healthcheck_passes_against_a_production_server(tmp_path):
    """deploy/healthcheck.py gets 200 from a daphne process configured as in production
    (HTTPS redirect on, one allowed host), and fails once that process is gone."""
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "pause.settings",
        "DJANGO_SECRET_KEY": "s" * 60,
        "DJANGO_ALLOWED_HOSTS": "pause.example.org",
        "PAUSE_DATA_DIR": str(tmp_path),
        "PAUSE_MANIFEST_STATIC": "false",
    }
    if os.environ.get("DATABASE_URL"):
        # The PostgreSQL pass of the suite probes that server (its maintenance database,
        # which always exists); otherwise a SQLite file.
        env["DATABASE_URL"] = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    daphne = BASE_DIR / ".venv" / "bin" / "daphne"
    command = [str(daphne)] if daphne.exists() else [sys.executable, "-m", "daphne"]
    # A file, not a pipe: a pipe nobody reads fills up and blocks the server's logging.
    log = tmp_path / "daphne.log"
    with log.open("wb") as log_file:
        server = subprocess.Popen(
            [*command, "-b", "127.0.0.1", "-p", str(port), "pause.asgi:application"],
            cwd=BASE_DIR,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        result = run_healthcheck(port)
        while result.returncode != 0 and time.monotonic() < deadline:
            assert server.poll() is None, log.read_text()[-2000:]
            time.sleep(0.2)
            result = run_healthcheck(port)
        assert result.returncode == 0, result.stdout + result.stderr + log.read_text()[-2000:]
        status, body = result.stdout.split(" ", 1)
        assert status == "200"
        assert json.loads(body)["checks"]["database"] == "ok"
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert run_healthcheck(port).returncode == 1
