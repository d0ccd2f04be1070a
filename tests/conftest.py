from __future__ import annotations

import importlib
import pkgutil

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client

from tests.factories import CustomerUserFactory, UserFactory

pytest_plugins = ["tests.simulators.fixtures"]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    """Tests create many users; the production hasher would dominate the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin_user(db: None) -> User:
    return UserFactory(username="ada", groups=["Administrators"])


@pytest.fixture
def sales_user(db: None) -> User:
    return UserFactory(username="sam", groups=["Sales"])


@pytest.fixture
def buyer_user(db: None) -> User:
    return CustomerUserFactory(user__username="bea").user


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client(admin_user: User) -> Client:
    return _client_for(admin_user)


@pytest.fixture
def sales_client(sales_user: User) -> Client:
    return _client_for(sales_user)


@pytest.fixture
def buyer_client(buyer_user: User) -> Client:
    return _client_for(buyer_user)


def _role_permissions() -> dict[str, list[str]]:
    """Every group's permissions, merged from each backoffice migration that grants some."""
    import backoffice.migrations

    merged: dict[str, list[str]] = {}
    for module_info in sorted(pkgutil.iter_modules(backoffice.migrations.__path__)):
        module = importlib.import_module(f"backoffice.migrations.{module_info.name}")
        for name, codes in getattr(module, "GROUP_PERMISSIONS", {}).items():
            merged.setdefault(name, []).extend(codes)
    return merged


@pytest.fixture
def backoffice_roles(transactional_db: None) -> None:
    """The Administrators and Sales groups, as the backoffice roles migrations create them.

    live_server needs a transactional database, which is flushed after each test: the groups go,
    and the permissions come back (post_migrate). A serialized rollback cannot restore them: its
    copy hangs on the connection object Django uses while no event loop runs, not on the one
    it uses while Playwright's loop runs.
    """
    for name, codes in _role_permissions().items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            [
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
                for app_label, codename in (code.split(".") for code in codes)
            ]
        )
