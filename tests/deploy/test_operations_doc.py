"""docs/operations.md is the configuration reference: every environment variable the settings
read, and every one read elsewhere in the project's code (``os.environ``/``getenv``), has a row in
it; and the guide links only to documents that exist."""

from __future__ import annotations

import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
DOC = BASE_DIR / "docs" / "operations.md"
CODE_DIRS = ("config", "members", "loyalty", "campaigns", "consent", "messaging", "liff_frontend")
ENV_READ = re.compile(r"""os\.(?:environ(?:\.get|\.setdefault)?\s*[\[(]|getenv\s*\()\s*["']([A-Z][A-Z0-9_]*)["']""")


def documented() -> set[str]:
    names = set()
    for line in DOC.read_text().splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]*)`", line.split("|")[1]))
    return names


def read_in_code() -> set[str]:
    names = set()
    for directory in CODE_DIRS:
        for path in (BASE_DIR / directory).rglob("*.py"):
            if "migrations" not in path.parts:
                names |= set(ENV_READ.findall(path.read_text(encoding="utf-8")))
    return names


def test_every_variable_read_by_the_settings_is_documented(settings_names):
    missing = sorted(settings_names - documented())
    assert not missing, f"docs/operations.md lacks: {missing}"


def test_every_variable_read_elsewhere_in_the_code_is_documented():
    found = read_in_code()
    assert {"DJANGO_SETTINGS_MODULE", "TAEM_BASE_URL", "OMP_THREAD_LIMIT"} <= found  # the scan works
    missing = sorted(found - documented())
    assert not missing, f"docs/operations.md lacks: {missing}"


def test_links_point_at_existing_documents():
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", DOC.read_text()):
        assert (DOC.parent / target).exists(), target
