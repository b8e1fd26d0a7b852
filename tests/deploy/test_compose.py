"""docker-compose.yml and .env.example kept correct without a Docker engine (none runs on the
project's machines): the file is parsed and every claim it makes is checked against the project.

- Every app service runs a program that exists in the project's environment, with arguments that
  program accepts: ``python manage.py <command>`` names a real management command, gunicorn's
  options parse and its application imports, ``celery -A config`` finds the project's Celery app
  and the worker/beat options parse.
- Dependencies name real services; web, worker and beat wait for the one-shot migrate to finish.
- PostgreSQL, Redis and web have health checks that test the right thing; services that do not
  serve HTTP switch off the image's HTTP health check.
- There is exactly one beat, and it writes its schedule where the image's user may write.
- Configuration reference: every variable compose or .env.example mentions is read by the
  settings (or by a named program: the postgres image, gunicorn), and every variable the
  settings read is listed in .env.example.
"""

from __future__ import annotations

import re
import shlex
import sys
import warnings
from pathlib import Path

import pytest
import yaml

BASE_DIR = Path(__file__).resolve().parents[2]
COMPOSE_FILE = BASE_DIR / "docker-compose.yml"
ENV_EXAMPLE = BASE_DIR / ".env.example"
BIN = Path(sys.executable).parent
# Variables read by a program other than the Django settings, and which one.
EXTERNAL_VARIABLES = {
    "POSTGRES_DB": "postgres image",
    "POSTGRES_USER": "postgres image",
    "POSTGRES_PASSWORD": "postgres image",
    "WEB_CONCURRENCY": "gunicorn (number of workers)",
}
APP_SERVICES = ("migrate", "web", "worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]



def argv(service: dict) -> list[str]:
    command = service.get("command")
    assert command, "an app service without a command would run the image's CMD: be explicit"
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def env_example_names() -> set[str]:
    names = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.add(match.group(1))
    return names


def compose_variables(compose: dict) -> set[str]:
    text = COMPOSE_FILE.read_text()
    interpolated = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", text))
    environment = set()
    for name in APP_SERVICES:
        environment |= set((compose["services"][name].get("environment") or {}).keys())
    return interpolated | environment


# --- the services ----------------------------------------------------------------------------


def test_the_services_are_the_production_topology(services):
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "beat"}
    assert services["postgres"]["image"].split(":")[1] in {"15", "16"}
    for name in APP_SERVICES:
        assert services[name]["build"] == "." and services[name]["image"] == "taem:latest", name
        assert services[name]["env_file"] == ".env", name


def test_every_app_command_uses_a_program_of_the_project_environment(services):
    for name in APP_SERVICES:
        program = argv(services[name])[0]
        path = Path(sys.executable) if program == "python" else BIN / program
        assert path.exists(), f"{name}: {program} is not installed in {BIN}"


def test_manage_py_commands_exist(services):
    from django.core.management import get_commands

    commands = get_commands()
    checked = 0
    for name in APP_SERVICES:
        args = argv(services[name])
        if args[:2] == ["python", "manage.py"]:
            assert args[2] in commands, f"{name}: manage.py {args[2]} does not exist"
            checked += 1
    assert argv(services["migrate"])[:4] == ["python", "manage.py", "migrate", "--noinput"]
    assert checked >= 1


def test_gunicorn_options_parse_and_the_application_imports(services):
    from django.core.handlers.wsgi import WSGIHandler
    from gunicorn.config import Config
    from gunicorn.util import import_app

    args = argv(services["web"])
    assert args[0] == "gunicorn"
    parsed = Config().parser().parse_args(args[1:])
    assert parsed.args == ["config.wsgi:application"]
    assert parsed.bind == ["0.0.0.0:8000"]
    assert isinstance(import_app(parsed.args[0]), WSGIHandler)


def _celery_context(args: list[str]):
    """Parse ``celery ...`` the way the celery program does, without running the command."""
    from celery.bin.base import CLIContext
    from celery.bin.celery import celery

    from config.celery import app

    obj = CLIContext(app=app, no_color=True, workdir=None, quiet=True)  # what option callbacks read
    context = celery.make_context("celery", list(args[1:]), obj=obj)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Click 8.2: protected_args
        tokens = [*context.protected_args, *context.args]
    name, command, rest = celery.resolve_command(context, tokens)
    return context, name, command.make_context(name, rest, parent=context)


def test_celery_worker_and_beat_find_the_project_app_and_accept_their_options(services):
    from celery.app.utils import find_app

    from config.celery import app

    for service, expected in (("worker", "worker"), ("beat", "beat")):
        args = argv(services[service])
        assert args[0] == "celery"
        context, name, sub = _celery_context(args)
        assert name == expected
        assert find_app(context.params["app"]) is app, f"{service}: -A {context.params['app']} is not config.celery.app"
        assert sub.params["loglevel"] == 20  # INFO, as parsed by celery
    _context, _name, beat = _celery_context(argv(services["beat"]))
    assert beat.params["schedule"].startswith("/var/lib/taem/"), "beat must write where the image's user may write"
    assert "/var/lib/taem" in (BASE_DIR / "Dockerfile").read_text().split("chown -R taem:taem")[1].split("\n")[0]


def test_an_invalid_celery_option_is_refused_by_the_same_parsing():
    import click

    with pytest.raises(click.exceptions.UsageError):
        _celery_context(["celery", "-A", "config", "worker", "--no-such-option"])


def test_exactly_one_beat_and_never_scaled(services):
    beats = [name for name in APP_SERVICES if argv(services[name])[3:4] == ["beat"]]
    assert beats == ["beat"]
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1


# --- dependencies and health -------------------------------------------------------------------


def test_dependencies_name_real_services_and_wait_for_migrate(services):
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            assert condition["condition"] in {"service_healthy", "service_completed_successfully", "service_started"}
            if condition["condition"] == "service_healthy":
                healthcheck = services[dependency].get("healthcheck") or {}
                assert healthcheck.get("test") and not healthcheck.get("disable"), (
                    f"{name} waits for {dependency} to be healthy, which has no health check")
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert services["migrate"]["restart"] == "no"


def test_health_checks_test_the_right_thing(services):
    postgres = " ".join(services["postgres"]["healthcheck"]["test"])
    assert "pg_isready" in postgres
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    web = " ".join(services["web"]["healthcheck"]["test"])
    port = argv(services["web"])[argv(services["web"]).index("--bind") + 1].rsplit(":", 1)[1]
    assert f"http://127.0.0.1:{port}/healthz" in web
    assert any(str(mapping).endswith(f":{port}") for mapping in services["web"]["ports"])
    # The image's HEALTHCHECK probes HTTP: the processes that serve none must switch it off.
    for name in ("migrate", "worker", "beat"):
        assert services[name]["healthcheck"] == {"disable": True}, name


def test_named_volumes_are_declared_and_media_is_shared_by_web_and_worker(compose, services):
    declared = set(compose["volumes"])
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            source = volume.split(":")[0]
            assert source in declared, f"{name}: volume {source} is not declared"
    media = "media:/var/lib/taem/media"
    assert media in services["web"]["volumes"] and media in services["worker"]["volumes"]


# --- configuration reference -------------------------------------------------------------------


def test_every_variable_compose_and_env_example_mention_is_read_by_someone(compose, settings_names):
    mentioned = compose_variables(compose) | env_example_names()
    unknown = sorted(mentioned - settings_names - set(EXTERNAL_VARIABLES))
    assert not unknown, f"not read by config/settings.py nor a known program: {unknown}"


def test_every_variable_the_settings_read_is_in_env_example(settings_names):
    # Sanity of the recorder itself: variables read in only one mode are found.
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "LOG_FORMAT", "DJANGO_HTTPS", "CACHE_URL"} <= settings_names
    missing = sorted(settings_names - env_example_names())
    assert not missing, f".env.example does not document: {missing}"


def test_env_example_holds_no_real_secret():
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(), flags=re.M))
    assert values["DJANGO_SECRET_KEY"].startswith("change-me")
    assert values["POSTGRES_PASSWORD"] == "change-me"
    assert values["LINE_LOGIN_CHANNEL_SECRET"] == ""
