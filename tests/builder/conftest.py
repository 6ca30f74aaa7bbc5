import pytest
from nicegui.testing import User

from tests.conftest import ADMIN_PASSWORD


@pytest.fixture
async def admin(app_env, user: User) -> User:
    """A User signed in as the admin."""
    await user.open("/login")
    user.find(marker="password").type(ADMIN_PASSWORD)
    user.find(marker="sign-in").click()
    await user.should_see(marker="navigation", retries=50)  # signing in hashes a password: slow on a busy machine
    return user
