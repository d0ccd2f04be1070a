from __future__ import annotations

import pytest
from django.contrib.auth.models import User
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
