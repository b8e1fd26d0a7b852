"""The shared browser fixtures (tests/browser/conftest.py: Debian Chromium, outside requests blocked)."""

from tests.browser.conftest import (  # noqa: F401 - fixtures and the screenshot-on-failure hook
    browser,
    chromium,
    playwright_driver,
    pytest_runtest_makereport,
)
