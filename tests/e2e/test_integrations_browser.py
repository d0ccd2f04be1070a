"""Manage Integrations in a real browser: create, edit, (de)activate and who may do what."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect
from pytest_django.live_server_helper import LiveServer

from integrations.models import Integration
from tests.e2e.conftest import login, shot
from tests.factories import CustomerUserFactory, UserFactory, create_integration

PUBLISHABLE_KEY = "pk_test_E2ePublishableKey0001"
SECRET_KEY = "sk_test_E2eSecretKeyValue4242"
MASKED_SECRET = "••••4242"
FORBIDDEN_HEADING = "You don't have access to this page"


def row_for(page: Page, name: str) -> Locator:
    return page.locator("table.grid tbody tr").filter(
        has=page.get_by_role("link", name=name, exact=True)
    )


def open_row_menu(page: Page, name: str) -> Locator:
    """Open the ⋯ menu of the list row for `name`; return its panel."""
    row = row_for(page, name)
    row.get_by_label(f"More options for {name}").click()
    panel = row.locator(".menu-panel")
    expect(panel).to_be_visible()
    return panel


def setting(page: Page, label: str) -> Locator:
    """The value shown for the setting `label` on an integration's page."""
    term = page.locator("dl.settings dt").filter(has_text=re.compile(f"^{re.escape(label)}$"))
    return term.locator("xpath=following-sibling::dd[1]")


def field(page: Page, label: str) -> Locator:
    """The text (or password) input whose accessible name is exactly `label`."""
    return page.get_by_role("textbox", name=label, exact=True)


def fill_stripe_form(page: Page, *, name: str, secret_key: str) -> None:
    field(page, "Name").fill(name)
    field(page, "Publishable key").fill(PUBLISHABLE_KEY)
    field(page, "Secret key").fill(secret_key)
    page.get_by_role("combobox", name="Payment action").select_option(label="Manual (authorize)")


def test_administrator_creates_edits_and_deactivates_a_stripe_integration(
    page: Page, live_server: LiveServer
) -> None:
    UserFactory(username="ada", groups=["Administrators"])
    login(page, live_server, "ada")
    shot(page, "admin-01-after-login")

    # System › Integrations › Manage Integrations
    main_menu = page.get_by_role("navigation", name="Main")
    main_menu.get_by_text("System", exact=True).click()
    main_menu.get_by_role("link", name="Manage Integrations").click()
    expect(page.get_by_role("heading", name="Manage Integrations")).to_be_visible()
    shot(page, "admin-02-empty-list")

    page.get_by_role("link", name="Create Integration").click()
    expect(page.get_by_role("heading", name="Create Integration")).to_be_visible()
    shot(page, "admin-03-choose-type")
    page.get_by_role("link", name=re.compile(r"^Stripe")).click()
    expect(page).to_have_url(re.compile(r"/admin/integrations/new/\?type=stripe$"))
    fill_stripe_form(page, name="Stripe EU", secret_key=SECRET_KEY)
    shot(page, "admin-04-stripe-form-filled")
    page.get_by_role("button", name="Create").click()

    # The detail page: success message, the secret masked and nowhere in full.
    expect(page).to_have_url(re.compile(r"/admin/integrations/\d+/$"))
    expect(page.get_by_role("status")).to_contain_text("Created the integration “Stripe EU”.")
    expect(setting(page, "Secret key")).to_have_text(MASKED_SECRET)
    assert SECRET_KEY not in page.content()
    shot(page, "admin-05-detail-created")

    # Back in the list, the row is there; edit it through its ⋯ menu.
    page.get_by_role("navigation", name="Breadcrumb").get_by_role(
        "link", name="Manage Integrations"
    ).click()
    row = row_for(page, "Stripe EU")
    expect(row).to_contain_text("Stripe")
    expect(row.locator(".badge")).to_have_text("Active")
    shot(page, "admin-06-list-with-row")
    menu = open_row_menu(page, "Stripe EU")
    shot(page, "admin-07-row-menu-open")
    menu.get_by_role("link", name="Edit").click()

    # The secret is never echoed back; a hint shows what is stored.
    secret_input = field(page, "Secret key")
    expect(secret_input).to_have_value("")
    assert not secret_input.get_attribute("value")
    expect(page.locator(".field").filter(has=secret_input)).to_contain_text(
        f"Stored: {MASKED_SECRET}"
    )
    assert SECRET_KEY not in page.content()
    shot(page, "admin-08-edit-form")
    field(page, "Label").fill("Pay by card")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status")).to_contain_text("Saved the integration “Stripe EU”.")
    expect(setting(page, "Secret key")).to_have_text(MASKED_SECRET)
    assert SECRET_KEY not in page.content()
    shot(page, "admin-09-detail-saved")
    integration = Integration.objects.get(name="Stripe EU")
    assert integration.settings["label"] == "Pay by card"
    assert integration.get_secrets()["secret_key"] == SECRET_KEY

    # Deactivate and reactivate from the list's ⋯ menu.
    page.get_by_role("navigation", name="Breadcrumb").get_by_role(
        "link", name="Manage Integrations"
    ).click()
    open_row_menu(page, "Stripe EU").get_by_role("link", name="Deactivate", exact=True).click()
    # The confirmation opens as an in-page dialog; nothing depends on this integration.
    dialog = page.locator("dialog[open]")
    expect(dialog).to_contain_text("Deactivate integration “Stripe EU”?")
    expect(dialog).to_contain_text("No payment rule uses this integration.")
    dialog.get_by_role("button", name="Deactivate").click()
    expect(page.get_by_role("status")).to_contain_text("Deactivated the integration “Stripe EU”.")
    expect(row_for(page, "Stripe EU").locator(".badge")).to_have_text("Inactive")
    shot(page, "admin-10-list-deactivated")
    open_row_menu(page, "Stripe EU").get_by_role("button", name="Activate", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Activated the integration “Stripe EU”.")
    expect(row_for(page, "Stripe EU").locator(".badge")).to_have_text("Active")
    shot(page, "admin-11-list-reactivated")
    integration.refresh_from_db()
    assert integration.is_active


def test_a_publishable_key_in_the_secret_key_field_is_refused_next_to_it(
    page: Page, live_server: LiveServer
) -> None:
    UserFactory(username="ada", groups=["Administrators"])
    login(page, live_server, "ada")
    page.goto(f"{live_server.url}/admin/integrations/new/?type=stripe")
    fill_stripe_form(page, name="Stripe typo", secret_key="pk_test_NotASecretKey0001")
    page.get_by_role("button", name="Create").click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Nothing was saved.")
    expect(alert.get_by_role("link", name="Secret key")).to_have_attribute("href", "#id_secret_key")
    secret_field = page.locator(".field").filter(has=field(page, "Secret key"))
    expect(secret_field).to_have_class(re.compile(r"\bhas-error\b"))
    expect(secret_field.locator(".field-error")).to_have_text(
        "This is not a Stripe secret key (sk_test_… or sk_live_…)."
    )
    expect(page.locator(".field-error")).to_have_count(1)
    # The refused secret is not echoed back; app.js focuses the field so it can be typed again.
    expect(field(page, "Secret key")).to_have_value("")
    expect(field(page, "Secret key")).to_be_focused()
    shot(page, "error-01-secret-key-refused")
    assert not Integration.objects.exists()


def test_sales_can_look_but_not_change(page: Page, live_server: LiveServer) -> None:
    create_integration(name="Stripe EU")
    UserFactory(username="sam", groups=["Sales"])
    login(page, live_server, "sam")

    expect(page).to_have_url(re.compile(r"/admin/integrations/$"))
    expect(row_for(page, "Stripe EU")).to_be_visible()
    expect(page.get_by_role("link", name="Create Integration")).to_have_count(0)
    menu = open_row_menu(page, "Stripe EU")
    expect(menu.get_by_role("link", name="View")).to_be_visible()
    expect(menu.get_by_role("link", name="Edit")).to_have_count(0)
    expect(menu.get_by_role("button")).to_have_count(0)
    shot(page, "sales-01-list-menu-open")

    response = page.goto(f"{live_server.url}/admin/integrations/new/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name=FORBIDDEN_HEADING)).to_be_visible()
    shot(page, "sales-02-create-forbidden")


def test_a_buyer_lands_on_the_storefront_and_is_kept_out_of_the_back_office(
    page: Page, live_server: LiveServer
) -> None:
    CustomerUserFactory(user__username="bea", customer__name="Bea's Bakery")
    login(page, live_server, "bea")

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Welcome, bea")).to_be_visible()
    expect(page.get_by_text("Bea's Bakery")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    shot(page, "buyer-01-storefront")

    response = page.goto(f"{live_server.url}/admin/integrations/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name=FORBIDDEN_HEADING)).to_be_visible()
    shot(page, "buyer-02-backoffice-forbidden")
