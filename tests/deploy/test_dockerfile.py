"""The Dockerfile kept correct without a Docker engine: its instructions are parsed and checked.

- Every ``COPY`` source exists in the repository and is not excluded by ``.dockerignore``; every
  Python package of the project (pyproject's ``packages.find``) is copied into the image.
- The copy from the front-end stage takes the directory the bundle build writes.
- The ``CMD`` program is installed and its application imports; it matches compose's web command.
- The image runs as a non-root user that owns the directory beat and media write to; every ``ENV``
  the settings read is one they really read.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
import sys
import tomllib
from pathlib import Path

import yaml

BASE_DIR = Path(__file__).resolve().parents[2]
DOCKERFILE = BASE_DIR / "Dockerfile"
NOT_FOR_SETTINGS = {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PIP_DISABLE_PIP_VERSION_CHECK",
                    "OMP_THREAD_LIMIT", "WEB_CONCURRENCY"}


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        keyword, _, rest = current.strip().partition(" ")
        logical.append((keyword.upper(), rest.strip()))
        current = ""
    return logical


def stages() -> list[list[tuple[str, str]]]:
    result = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            result.append([])
        result[-1].append((keyword, rest))
    return result


def dockerignore_patterns() -> list[str]:
    lines = (BASE_DIR / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str) -> bool:
    excluded = False
    for pattern in dockerignore_patterns():
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes):
            excluded = not negate
    return excluded


def copies() -> list[tuple[list[str], str, str | None]]:
    """(sources, destination, --from stage) of every COPY."""
    result = []
    for keyword, rest in instructions():
        if keyword != "COPY":
            continue
        parts = rest.split()
        source_stage = None
        while parts[0].startswith("--"):
            flag = parts.pop(0)
            if flag.startswith("--from="):
                source_stage = flag.split("=", 1)[1]
        result.append((parts[:-1], parts[-1], source_stage))
    return result


def test_every_copy_source_exists_and_reaches_the_build_context():
    checked = 0
    for sources, _destination, stage in copies():
        if stage:
            continue
        for source in sources:
            assert (BASE_DIR / source).exists(), f"COPY {source}: not in the repository"
            assert not ignored(source), f"COPY {source}: excluded by .dockerignore"
            checked += 1
    assert checked >= 10
    # The ignore rules keep what must stay out of the image out of the context.
    for path in (".venv", ".env", "var/secret_key", "liff_frontend/static_src/node_modules", "tests", ".git"):
        assert ignored(path), path
    assert not ignored(".env.example")


def test_every_project_package_is_copied():
    pyproject = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())
    packages = {pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {source for sources, _dest, stage in copies() if not stage for source in sources}
    assert packages <= copied, f"packages missing from the image: {sorted(packages - copied)}"
    assert {"manage.py", "locale"} <= copied


def test_the_bundle_is_copied_from_where_the_build_writes_it():
    assets = stages()[0]
    workdir = next(rest for keyword, rest in assets if keyword == "WORKDIR")
    build_script = (BASE_DIR / "liff_frontend/static_src/build.mjs").read_text()
    outdir = re.search(r"outdir: path\.resolve\(here, '([^']+)'\)", build_script).group(1)
    built = posixpath.normpath(posixpath.join(workdir, outdir))
    (sources, destination, stage), = [copy for copy in copies() if copy[2]]
    assert stage == "assets" and sources == [built]
    assert destination == "./" + str(Path("liff_frontend/static/liff_frontend/dist"))


def _cmd() -> list[str]:
    return json.loads(next(rest for keyword, rest in stages()[-1] if keyword == "CMD"))


def test_cmd_program_exists_and_serves_the_project_application():
    from django.core.handlers.wsgi import WSGIHandler
    from gunicorn.config import Config
    from gunicorn.util import import_app

    command = _cmd()
    assert (Path(sys.executable).parent / command[0]).exists(), f"{command[0]} is not installed"
    parsed = Config().parser().parse_args(command[1:])
    assert isinstance(import_app(parsed.args[0]), WSGIHandler)
    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    assert compose["services"]["web"]["command"] == command, "compose's web command and the image's CMD differ"


def test_runs_as_a_user_that_owns_its_writable_directory():
    runtime = stages()[-1]
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert users and users[-1] not in {"root", "0"}
    keywords = [keyword for keyword, _ in runtime]
    assert keywords.index("USER") < keywords.index("CMD")
    run = " ".join(rest for keyword, rest in runtime if keyword == "RUN")
    assert re.search(rf"chown -R {users[-1]}:{users[-1]} /var/lib/taem\b", run)
    env = " ".join(rest for keyword, rest in runtime if keyword == "ENV")
    assert "TAEM_VAR_DIR=/var/lib/taem" in env and "DJANGO_MEDIA_ROOT=/var/lib/taem/media" in env



def test_every_env_of_the_image_is_read_by_the_settings(settings_names):
    names = set()
    for keyword, rest in stages()[-1]:
        if keyword == "ENV":
            names |= set(re.findall(r"([A-Z][A-Z0-9_]*)=", rest))
    assert "TAEM_PRODUCTION" in names
    unknown = sorted(names - settings_names - NOT_FOR_SETTINGS)
    assert not unknown, f"ENV not read by config/settings.py: {unknown}"


def test_healthcheck_probes_the_health_endpoint():
    healthcheck = next(rest for keyword, rest in stages()[-1] if keyword == "HEALTHCHECK")
    assert "http://127.0.0.1:8000/healthz" in healthcheck
    assert "0.0.0.0:8000" in _cmd()
