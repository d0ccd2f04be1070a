"""Who may reach which integration page: anonymous, buyer, sales and administrator.

Roles are groups holding permissions (created by the backoffice roles migrations); the views check
permissions, never group names, so a superuser may adjust what each role can do.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import lxml.html
import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from integrations.models import Integration
from integrations.types import IntegrationType
from rules.models import PaymentRule, PaymentRuleMethod
from tests.factories import UserFactory, create_integration

pytestmark = pytest.mark.django_db

LIST = "/admin/integrations/"
ROLES = ["anonymous", "buyer", "sales", "admin"]


@pytest.fixture
def integration(admin_user) -> Integration:
    """A Stripe integration whose endpoint is a closed port on this machine.

    Checking its connection fails at once (connection refused) instead of calling Stripe.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return create_integration(
        IntegrationType.STRIPE,
        name="Cards",
        actor=admin_user,
        api_base_url=f"http://127.0.0.1:{port}",
    )


def client_for(role: str, request: pytest.FixtureRequest) -> Client:
    if role == "anonymous":
        return Client()
    return request.getfixturevalue(f"{role}_client")


@dataclass(frozen=True)
class Page:
    method: str
    path: str
    sales: int
    admin: int
    # /admin/ only redirects to the list: follow it and judge where it lands.
    follow: bool = False

    def url(self, integration: Integration) -> str:
        return self.path.format(pk=integration.pk)


# Anonymous users are always sent to the login page and buyers always get 403.
PAGES = [
    Page("get", "/admin/", sales=200, admin=200, follow=True),
    Page("get", "/admin/integrations/", sales=200, admin=200),
    Page("get", "/admin/integrations/new/", sales=403, admin=200),
    Page("get", "/admin/integrations/new/?type=stripe", sales=403, admin=200),
    Page("get", "/admin/integrations/{pk}/", sales=200, admin=200),
    Page("get", "/admin/integrations/{pk}/edit/", sales=403, admin=200),
    Page("post", "/admin/integrations/{pk}/activate/", sales=403, admin=302),
    Page("get", "/admin/integrations/{pk}/deactivate/", sales=403, admin=200),
    Page("post", "/admin/integrations/{pk}/deactivate/", sales=403, admin=302),
    Page("get", "/admin/integrations/{pk}/delete/", sales=403, admin=200),
    Page("post", "/admin/integrations/{pk}/check-connection/", sales=403, admin=302),
]
# Deactivate and delete answer GET with their confirmation; these only take POST.
POST_ONLY = [
    "/admin/integrations/{pk}/activate/",
    "/admin/integrations/{pk}/check-connection/",
]


def expected_status(page: Page, role: str) -> int:
    return {"anonymous": 302, "buyer": 403, "sales": page.sales, "admin": page.admin}[role]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", PAGES, ids=lambda page: f"{page.method.upper()} {page.path}")
def test_access_matrix(request, integration, page, role):
    client = client_for(role, request)
    url = page.url(integration)
    # Only staff are redirected from /admin/: anonymous visitors go to login, buyers get 403.
    follow = page.follow and role not in ("anonymous", "buyer")

    response = getattr(client, page.method)(url, follow=follow)

    assert response.status_code == expected_status(page, role)
    if role == "anonymous":
        location = urlsplit(response["Location"])
        assert location.path == "/login/"
        assert parse_qs(location.query) == {"next": [url]}
    if follow:
        assert response.redirect_chain[0] == (LIST, 302)


@pytest.mark.parametrize("role", ["buyer", "sales", "admin"])
@pytest.mark.parametrize("path", POST_ONLY)
def test_post_only_actions_refuse_get(request, integration, role, path):
    response = client_for(role, request).get(path.format(pk=integration.pk))
    assert response.status_code == 405
    integration.refresh_from_db()
    assert integration.is_active


@pytest.mark.parametrize("path", POST_ONLY)
def test_anonymous_get_on_a_post_only_action_is_sent_to_login(client, integration, path):
    response = client.get(path.format(pk=integration.pk))
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/login/"


@pytest.mark.parametrize("role", ["anonymous", "buyer", "sales"])
def test_refused_actions_change_nothing(request, integration, role):
    client = client_for(role, request)
    before = Integration.objects.values().get(pk=integration.pk)

    client.post(f"/admin/integrations/{integration.pk}/deactivate/")
    client.post(f"/admin/integrations/{integration.pk}/edit/", {"name": "Hijacked"})
    client.post("/admin/integrations/new/?type=money_order", {"name": "Sneaky"})

    assert Integration.objects.values().get(pk=integration.pk) == before
    assert Integration.objects.count() == 1


def test_administrator_actions_redirect_to_the_integration(admin_client, integration):
    detail = f"/admin/integrations/{integration.pk}/"
    for action in ["deactivate", "activate", "check-connection"]:
        response = admin_client.post(f"/admin/integrations/{integration.pk}/{action}/")
        assert response["Location"] == detail, action
    response = admin_client.post(
        f"/admin/integrations/{integration.pk}/deactivate/", {"next": LIST + "?status=active"}
    )
    assert response["Location"] == LIST + "?status=active"
    integration.refresh_from_db()
    assert not integration.is_active


# --- the roles --------------------------------------------------------------------------------


PAYMENT_PERMISSIONS = {
    "payments.view_payment_history",
    "payments.capture_payment",
    "payments.cancel_payment",
    "payments.refund_payment",
}
ROLE_PERMISSIONS = {
    "Administrators": PAYMENT_PERMISSIONS
    | {
        "backoffice.access_backoffice",
        "backoffice.view_auditentry",
        "backoffice.view_paymentterm",
        "backoffice.add_paymentterm",
        "backoffice.change_paymentterm",
        "integrations.view_integration",
        "integrations.add_integration",
        "integrations.change_integration",
        "integrations.delete_integration",
        "rules.view_paymentrule",
        "rules.add_paymentrule",
        "rules.change_paymentrule",
        "rules.delete_paymentrule",
    },
    "Sales": PAYMENT_PERMISSIONS
    | {
        "backoffice.access_backoffice",
        "backoffice.view_paymentterm",
        "integrations.view_integration",
        "rules.view_paymentrule",
    },
}


@pytest.mark.parametrize("group", list(ROLE_PERMISSIONS))
def test_the_roles_exist_with_their_permissions(group):
    permissions = {
        f"{app}.{codename}"
        for app, codename in Group.objects.get(name=group).permissions.values_list(
            "content_type__app_label", "codename"
        )
    }
    assert permissions == ROLE_PERMISSIONS[group]


def _grant(group: str, permission: str) -> None:
    app_label, codename = permission.split(".")
    Group.objects.get(name=group).permissions.add(
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
    )


def test_giving_sales_the_change_permission_lets_sales_edit(sales_client, integration):
    edit = f"/admin/integrations/{integration.pk}/edit/"
    assert sales_client.get(edit).status_code == 403

    _grant("Sales", "integrations.change_integration")

    assert sales_client.get(edit).status_code == 200
    response = sales_client.post(f"/admin/integrations/{integration.pk}/deactivate/")
    assert response.status_code == 302
    integration.refresh_from_db()
    assert not integration.is_active
    assert sales_client.get("/admin/integrations/new/").status_code == 403


def test_taking_view_permission_from_sales_locks_sales_out(sales_client, integration):
    Group.objects.get(name="Sales").permissions.remove(
        Permission.objects.get(content_type__app_label="integrations", codename="view_integration")
    )
    assert sales_client.get(LIST).status_code == 403
    assert sales_client.get(f"/admin/integrations/{integration.pk}/").status_code == 403


def test_permissions_count_not_group_names(client):
    user = UserFactory(username="viewer")
    for codename, app_label in [
        ("access_backoffice", "backoffice"),
        ("view_integration", "integrations"),
    ]:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    client.force_login(user)
    assert client.get(LIST).status_code == 200
    assert client.get("/admin/integrations/new/").status_code == 403


def test_a_superuser_may_do_everything(client, integration):
    client.force_login(UserFactory(username="root", is_superuser=True))
    assert client.get("/admin/integrations/new/?type=stripe").status_code == 200
    assert client.get(f"/admin/integrations/{integration.pk}/edit/").status_code == 200


def test_the_view_permission_without_backoffice_access_is_refused(client):
    user = UserFactory(username="outsider")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="integrations", codename="view_integration")
    )
    client.force_login(user)
    assert client.get(LIST).status_code == 403


# --- what each role sees ----------------------------------------------------------------------


def _links(client: Client, url: str) -> set[str]:
    page = lxml.html.fromstring(client.get(url).content.decode())
    return {str(href) for href in page.xpath("//a/@href")}


def test_sales_sees_no_create_edit_or_action_controls(sales_client, integration):
    list_page = sales_client.get(LIST).content.decode()
    detail_page = sales_client.get(f"/admin/integrations/{integration.pk}/").content.decode()

    assert "Create Integration" not in list_page
    assert "/admin/integrations/new/" not in _links(sales_client, LIST)
    for page in (list_page, detail_page):
        assert f"/admin/integrations/{integration.pk}/edit/" not in page
        assert f"/admin/integrations/{integration.pk}/deactivate/" not in page
        assert "check-connection" not in page


def test_administrator_sees_the_create_link_and_the_actions(admin_client, integration):
    assert "Create Integration" in admin_client.get(LIST).content.decode()
    assert "/admin/integrations/new/" in _links(admin_client, LIST)
    detail_page = admin_client.get(f"/admin/integrations/{integration.pk}/").content.decode()
    assert f"/admin/integrations/{integration.pk}/edit/" in detail_page
    assert f"/admin/integrations/{integration.pk}/check-connection/" in detail_page


def test_buyers_see_no_back_office_menu(buyer_client):
    page = buyer_client.get("/").content.decode()
    assert "Manage Integrations" not in page
    assert LIST not in page


# --- signing in and out -----------------------------------------------------------------------


def test_the_login_page_works_for_anonymous_visitors(client):
    response = client.get("/login/")
    assert response.status_code == 200
    page = lxml.html.fromstring(response.content.decode())
    assert page.xpath('//input[@name="username"]')
    assert page.xpath('//input[@name="password"][@type="password"]')


@pytest.mark.parametrize(
    ("user_fixture", "username", "landing"),
    [
        ("buyer_user", "bea", "/"),
        ("sales_user", "sam", LIST),
        ("admin_user", "ada", LIST),
    ],
)
def test_signing_in_lands_each_role_on_its_start_page(
    request, client, user_fixture, username, landing
):
    request.getfixturevalue(user_fixture)

    response = client.post(
        "/login/", {"username": username, "password": "pass-word-123"}, follow=True
    )

    assert response.status_code == 200
    assert response.redirect_chain[0] == ("/", 302)
    assert response.request["PATH_INFO"] == landing


def test_the_storefront_start_page_welcomes_the_buyer(client, buyer_user):
    client.post("/login/", {"username": "bea", "password": "pass-word-123"})
    response = client.get("/")
    assert response.status_code == 200
    assert "Welcome, bea" in response.content.decode()


def test_signing_in_returns_to_the_page_asked_for(client, admin_user, integration):
    detail = f"/admin/integrations/{integration.pk}/"
    login = client.get(detail)["Location"]

    response = client.post(login, {"username": "ada", "password": "pass-word-123", "next": detail})

    assert response.status_code == 302
    assert response["Location"] == detail


def test_signing_in_ignores_a_next_page_on_another_site(client, admin_user):
    response = client.post(
        "/login/",
        {"username": "ada", "password": "pass-word-123", "next": "https://evil.example/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_a_wrong_password_is_refused(client, admin_user):
    response = client.post("/login/", {"username": "ada", "password": "wrong-password"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert client.get(LIST).status_code == 302


def test_signed_in_users_visiting_the_login_page_go_to_their_start_page(admin_client):
    response = admin_client.get("/login/")
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_signing_out_needs_a_post(admin_client):
    assert admin_client.get("/logout/").status_code == 405
    assert admin_client.get(LIST).status_code == 200

    response = admin_client.post("/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert admin_client.get(LIST).status_code == 302


# --- performance ------------------------------------------------------------------------------


def _add_integrations(count: int, start: int, actor, rule: PaymentRule) -> None:
    types = list(IntegrationType)
    for number in range(start, start + count):
        integration = create_integration(
            types[number % len(types)], name=f"Integration {number:03}", actor=actor
        )
        for method in integration.methods.all():
            PaymentRuleMethod.objects.create(rule=rule, method=method)


def _count_list_queries(client: Client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response.content.decode()


@pytest.mark.parametrize("url", [LIST, f"{LIST}?sort=-rules&status=active&q=integration"])
def test_the_list_takes_a_fixed_number_of_queries(admin_client, admin_user, url):
    rule = PaymentRule.objects.create(name="Everything", currency="USD")
    _add_integrations(3, 0, admin_user, rule)
    admin_client.get(url)  # the first request of a session may do one-off work
    few, _ = _count_list_queries(admin_client, url)

    _add_integrations(30, 3, admin_user, rule)
    many, page = _count_list_queries(admin_client, url)

    assert many <= few
    rows = lxml.html.fromstring(page).xpath("//tr[@data-integration]")
    assert len(rows) == 25  # a full page
