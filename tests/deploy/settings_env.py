"""Which environment variables ``config/settings.py`` reads: run it in a fresh interpreter with
``os.environ`` replaced by a mapping that records every key looked up, once in development mode
and once in production mode (so variables read only in one branch are found too).

Run as a script it prints the names, one per line; ``settings_env_names()`` returns the union.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]

_RECORDER = r"""
import os, runpy, sys

# Everything settings.py imports, imported first: their own import-time look-ups are not settings'.
import secrets, pathlib, dj_database_url, celery.schedules, django.core.exceptions, django.utils.translation  # noqa

seen = set()
real = os.environ

class Env(dict):
    def __getitem__(self, key):
        seen.add(key)
        return real[key]
    def get(self, key, default=None):
        seen.add(key)
        return real.get(key, default)
    def __contains__(self, key):
        seen.add(key)
        return key in real
    def setdefault(self, key, default=None):
        seen.add(key)
        return real.setdefault(key, default)

os.environ = Env()
try:
    runpy.run_path(sys.argv[1], run_name="settings_under_test")
finally:
    os.environ = real
print("\n".join(sorted(seen)))
"""


def _read_names(extra_env: dict[str, str]) -> set[str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DJANGO_", "TAEM_", "LINE_", "CELERY_", "LOG_"))}
    env.update(extra_env)
    result = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-c", _RECORDER, str(BASE_DIR / "config" / "settings.py")],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60, check=True,
    )
    return {line for line in result.stdout.splitlines() if line}


def settings_env_names(var_dir: str) -> set[str]:
    development = _read_names({"TAEM_VAR_DIR": var_dir})
    production = _read_names({"TAEM_VAR_DIR": var_dir, "TAEM_PRODUCTION": "1",
                              "DJANGO_SECRET_KEY": "x" * 50, "CACHE_URL": "redis://127.0.0.1:6379/9"})
    return development | production


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print("\n".join(sorted(settings_env_names(tmp))))
