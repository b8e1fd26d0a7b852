import pytest

from tests.deploy.settings_env import settings_env_names


@pytest.fixture(scope="session")
def settings_names(tmp_path_factory) -> set[str]:
    """The environment variables config/settings.py reads (see settings_env.py)."""
    return settings_env_names(str(tmp_path_factory.mktemp("settings-var")))
