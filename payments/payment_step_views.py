"""The card/PayPal payment page and the addresses providers send the buyer (and themselves) back to.

The payment page renders the provider's step: Stripe.js or Accept.js collect the card in the
browser and hand the provider's token or intent to us, a Payflow form posts the card straight to
PayPal, PayPal Express redirects to PayPal. Card numbers never reach these views: a request
carrying one is refused (see `browser_checkout.carries_card_data`).
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from integrations.adapters.base import StepKind
from payments.browser_checkout import (
    awaits_buyer,
    carries_card_data,
    checkout_abandon,
    checkout_complete,
    checkout_step,
    checkout_urls,
    row_for_token,
)
from payments.ledger import PaymentError
from payments.models import PaymentTransaction, State
from payments.money import format_amount
from payments.storefront_views import (
    _backoffice_redirect,
    _checkout_order,
    _user_id,
    summary_context,
)

logger = logging.getLogger(__name__)

STEP_TEMPLATES = {
    StepKind.STRIPE_JS: "storefront/steps/stripe_js.html",
    StepKind.ACCEPT_JS: "storefront/steps/accept_js.html",
    StepKind.HOSTED_FORM: "storefront/steps/hosted_form.html",
}


def _buyer_row(request: HttpRequest, number: str, pk: int) -> PaymentTransaction | HttpResponse:
    if (elsewhere := _backoffice_redirect(request, number)) is not None:
        return elsewhere
    order = _checkout_order(user_id=_user_id(request), number=number)
    row = (
        PaymentTransaction.objects.select_related("method__integration")
        .filter(pk=pk, order=order)
        .first()
    )
    if row is None:
        raise Http404("No such payment.")
    row.order = order
    return row


def _params(request: HttpRequest) -> dict[str, str]:
    source = request.POST if request.method == "POST" else request.GET
    return {name: source.get(name, "") for name in source if name != "csrfmiddlewaretoken"}


@never_cache
@require_http_methods(["GET", "POST"])
def checkout_pay(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    """The provider's payment step for one started payment; POST is Accept.js's opaque data."""
    row = _buyer_row(request, number, pk)
    if isinstance(row, HttpResponse):
        return row
    done = redirect("payments:checkout_done", number=number)
    if not awaits_buyer(row):
        return done
    if request.method == "POST":
        try:
            checkout_complete(row=row, params=_params(request))
        except PaymentError as refusal:
            messages.error(request, str(refusal))
            return redirect("payments:checkout_pay", number=number, pk=pk)
        return done
    urls = checkout_urls(request, row)
    try:
        step = checkout_step(row=row, urls=urls)
    except PaymentError as refusal:
        return render(
            request,
            "storefront/pay.html",
            {**summary_context(row.order), "payment": row, "error": str(refusal)},
            status=503,
        )
    if step.kind == StepKind.REDIRECT:
        return HttpResponseRedirect(step.url)
    return render(
        request,
        "storefront/pay.html",
        {
            **summary_context(row.order),
            "payment": row,
            "amount": format_amount(row.amount, row.currency),
            "step": step,
            "step_template": STEP_TEMPLATES[step.kind],
            "return_url": urls.return_url,
        },
    )


@require_POST
def checkout_pay_abandon(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    """The buyer chose another method: the started payment is given up first."""
    row = _buyer_row(request, number, pk)
    if isinstance(row, HttpResponse):
        return row
    row = checkout_abandon(row=row)
    if row.state != State.FAILED:
        return redirect("payments:checkout_done", number=number)
    messages.info(request, "The payment you started was cancelled; nothing was charged.")
    return redirect("payments:checkout", number=number)


def _completed(request: HttpRequest, token: str) -> PaymentTransaction:
    row = row_for_token(token)
    if row is None:
        raise Http404("No such payment.")
    params = _params(request)
    if carries_card_data(params):
        raise PaymentError("Card details must never be sent to this site; nothing was recorded.")
    return checkout_complete(row=row, params=params)


@csrf_exempt  # the provider posts here cross-site; the signed token names the payment
@login_not_required  # ...and the buyer's session cookie may not come along with that post
@never_cache
@require_http_methods(["GET", "POST"])
def checkout_return(request: HttpRequest, token: str) -> HttpResponse:
    """Where the provider sends the buyer back; the outcome is asked of the provider."""
    try:
        row = _completed(request, token)
    except PaymentError as refusal:
        return HttpResponse(str(refusal), status=400, content_type="text/plain")
    return redirect("payments:checkout_done", number=row.order.number)


@csrf_exempt
@login_not_required
@require_POST
def checkout_notify(request: HttpRequest, token: str) -> HttpResponse:
    """A provider's server-to-server result for one payment (Payflow's silent post)."""
    try:
        _completed(request, token)
    except PaymentError as refusal:
        return HttpResponse(str(refusal), status=400, content_type="text/plain")
    return HttpResponse("OK", content_type="text/plain")


@login_not_required
@never_cache
@require_http_methods(["GET"])
def checkout_cancel(request: HttpRequest, token: str) -> HttpResponse:
    """The buyer cancelled on the provider's page: give the payment up, back to the methods."""
    row = row_for_token(token)
    if row is None:
        raise Http404("No such payment.")
    row = checkout_abandon(row=row)
    if row.state == State.FAILED:
        messages.info(request, "You cancelled the payment; nothing was charged.")
    return redirect("payments:checkout", number=row.order.number)
