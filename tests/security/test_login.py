"""Signing in: `next=` stays on this site, and repeated failures lock a username+address out."""

from __future__ import annotations

import lxml.html
import pytest
from django.test import Client

from tests.factories import UserFactory, create_rule_with_methods

pytestmark = pytest.mark.django_db

PASSWORD = "pass-word-123"

FOREIGN = [
    "https://evil.example/",
    "http://evil.example/admin/",
    "//evil.example",
    "//evil.example/admin/",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    " //evil.example",
]


@pytest.fixture
def staff(db: None):
    return UserFactory(username="ada", groups=["Administrators"])


def sign_in(client: Client, username: str, password: str, **extra: str):
    return client.post(
        "/login/", {"username": username, "password": password, **extra}, REMOTE_ADDR="10.0.0.1"
    )


# --- next= ------------------------------------------------------------------------------------


@pytest.mark.parametrize("next_url", FOREIGN)
def test_signing_in_never_follows_next_to_another_site(client, staff, next_url):
    response = sign_in(client, "ada", PASSWORD, next=next_url)
    assert response.status_code == 302
    assert response["Location"] == "/"


@pytest.mark.parametrize("next_url", FOREIGN)
def test_the_login_page_does_not_carry_a_foreign_next_into_its_form(client, next_url):
    page = lxml.html.fromstring(client.get("/login/", {"next": next_url}).content.decode())
    assert page.xpath('//input[@name="next"]/@value') in ([""], [])


def test_signing_in_follows_next_on_this_site(client, staff):
    response = sign_in(client, "ada", PASSWORD, next="/admin/payment-rules/?status=enabled")
    assert response["Location"] == "/admin/payment-rules/?status=enabled"


@pytest.mark.parametrize("next_url", FOREIGN)
def test_back_office_actions_never_follow_next_to_another_site(admin_client, next_url):
    rule = create_rule_with_methods("Rule", [])
    response = admin_client.post(f"/admin/payment-rules/{rule.pk}/disable/", {"next": next_url})
    assert response["Location"] == "/admin/payment-rules/"


# --- throttling -------------------------------------------------------------------------------


def _fail(client: Client, times: int, username: str = "ada", address: str = "10.0.0.1"):
    response = None
    for _ in range(times):
        response = client.post(
            "/login/", {"username": username, "password": "wrong"}, REMOTE_ADDR=address
        )
    return response


def test_four_failures_still_let_the_right_password_in(client, staff):
    assert _fail(client, 4).status_code == 200
    response = sign_in(client, "ada", PASSWORD)
    assert response.status_code == 302
    assert "_auth_user_id" in client.session


def test_five_failures_lock_the_username_from_that_address_with_a_clear_message(client, staff):
    response = _fail(client, 5)

    assert response.status_code == 429
    page = lxml.html.fromstring(response.content.decode())
    message = page.xpath('string(//*[@data-testid="lockout"])')
    assert "Too many failed sign-in attempts" in message
    assert "15 minutes" in message
    # The form is there again, with the username kept.
    assert page.xpath('//input[@name="username"]/@value') == ["ada"]

    locked = sign_in(client, "ada", PASSWORD)
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lockout_touches_only_that_username_and_address(client, staff):
    UserFactory(username="sam", groups=["Sales"])
    _fail(client, 5)

    from_elsewhere = Client().post(
        "/login/", {"username": "ada", "password": PASSWORD}, REMOTE_ADDR="10.0.0.2"
    )
    assert from_elsewhere.status_code == 302
    colleague = Client().post(
        "/login/", {"username": "sam", "password": PASSWORD}, REMOTE_ADDR="10.0.0.1"
    )
    assert colleague.status_code == 302


def test_the_lockout_ends_after_fifteen_minutes(client, staff, settings):
    from axes.models import AccessAttempt

    _fail(client, 5)
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - settings.AXES_COOLOFF_TIME
    )

    response = sign_in(client, "ada", PASSWORD)
    assert response.status_code == 302
    assert "_auth_user_id" in client.session


def test_a_successful_sign_in_clears_the_failures(client, staff):
    _fail(client, 4)
    sign_in(client, "ada", PASSWORD)
    client.post("/logout/")

    assert _fail(client, 4).status_code == 200  # counting starts again


def test_an_unknown_username_is_locked_out_the_same_way(client, staff):
    # The same answer as for a real account: the lockout tells nobody which usernames exist.
    assert _fail(client, 5, username="nobody").status_code == 429


def test_behind_the_tls_proxy_the_client_address_is_the_one_the_proxy_appended(
    client, staff, settings
):
    settings.BEHIND_TLS_PROXY = True
    for spoofed in range(5):
        client.post(
            "/login/",
            {"username": "ada", "password": "wrong"},
            REMOTE_ADDR="10.9.9.9",  # the proxy
            HTTP_X_FORWARDED_FOR=f"1.2.3.{spoofed}, 203.0.113.7",
        )
    # Five failures from 203.0.113.7 (whatever it claimed before): that address is locked.
    assert (
        Client()
        .post(
            "/login/",
            {"username": "ada", "password": PASSWORD},
            REMOTE_ADDR="10.9.9.9",
            HTTP_X_FORWARDED_FOR="203.0.113.7",
        )
        .status_code
        == 429
    )
    # Another client behind the same proxy is not.
    assert (
        Client()
        .post(
            "/login/",
            {"username": "ada", "password": PASSWORD},
            REMOTE_ADDR="10.9.9.9",
            HTTP_X_FORWARDED_FOR="198.51.100.4",
        )
        .status_code
        == 302
    )
