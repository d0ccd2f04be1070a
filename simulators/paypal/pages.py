"""The buyer's side of PayPal: a plain stand-in for the approval page (no scripts, no CDN)."""

from __future__ import annotations

import html
from urllib.parse import urlencode

from simulators.base import Response
from simulators.paypal.answers import BUYER, Payment, money


def approval_form(payment: Payment, merchant: str) -> str:
    """The approval page's content: what is asked, of whom, and the two buttons."""
    transaction = payment.request["transactions"][0]
    detail = transaction.get("description") or transaction.get("invoice_number") or ""
    action = "authorize" if payment.intent == "authorize" else "pay"
    return f"""
<dl>
  <dt>Merchant</dt><dd>{html.escape(merchant)}</dd>
  <dt>Amount</dt><dd class="amount">{money(payment.amount, payment.currency)}
    {payment.currency}</dd>
  <dt>For</dt><dd>{html.escape(str(detail))}</dd>
</dl>
<p>Signed in as {BUYER["email"]} (sandbox buyer). The merchant asks you to {action} this
amount.</p>
<form method="post" action="/checkoutnow">
  <input type="hidden" name="token" value="{payment.token}">
  <p><label><input type="checkbox" name="decline"> Simulate a declined funding source</label></p>
  <p><button name="action" value="approve" class="primary">Pay with PayPal</button>
     <button name="action" value="cancel">Cancel and return</button></p>
</form>"""


def redirect(url: str, query: dict[str, str]) -> Response:
    location = url + ("&" if "?" in url else "?") + urlencode(query)
    return Response(303, b"", "text/html", {"Location": location})


def page(status: int, title: str, content: str) -> Response:
    document = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)} · PayPal sandbox stand-in (local simulator)</title>
<style>
  body {{ font: 16px/1.5 system-ui, sans-serif; background: #f5f7fa; margin: 0; }}
  header {{ background: #003087; color: #fff; padding: .8rem 1.5rem; }}
  header small {{ color: #ffc439; margin-left: .5rem; }}
  main {{ max-width: 28rem; margin: 2rem auto; background: #fff; padding: 1.5rem 2rem;
         border-radius: 8px; box-shadow: 0 1px 4px rgba(0,0,0,.15); }}
  dt {{ color: #555; font-size: .85rem; }} dd {{ margin: 0 0 .6rem; font-weight: 600; }}
  .amount {{ font-size: 1.6rem; }}
  button {{ font: inherit; padding: .6rem 1.2rem; border-radius: 20px; border: 1px solid #888;
           background: #fff; cursor: pointer; font-size: 1rem; }}
  button.primary {{ background: #ffc439; border-color: #ffc439; font-weight: 600; }}
</style></head>
<body><header><strong>PayPal</strong><small>sandbox stand-in · local simulator, no real
money moves</small></header>
<main><h1>{html.escape(title)}</h1>{content}</main></body></html>"""
    return Response(status, document.encode(), "text/html; charset=utf-8")
