"""The browser-facing pages: Payflow Link's answer to the card form and PayPal's approval page,
self-contained HTML marked as a local simulator."""

from __future__ import annotations

import html

from simulators.base import Response

_PAGE_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;background:#f4f5f7;color:#222;margin:0}"
    "main{max-width:28rem;margin:3rem auto;background:#fff;padding:1.5rem 2rem;"
    "border-radius:8px;box-shadow:0 1px 4px #0002}"
    ".badge{display:inline-block;background:#fde68a;color:#713f12;padding:.1rem .6rem;"
    "border-radius:999px;font-size:.8rem;font-weight:600}"
    "button{font:inherit;padding:.5rem 1rem;border-radius:6px;border:0;background:#0070ba;"
    "color:#fff;cursor:pointer}button.secondary{background:#e5e7eb;color:#222}"
)


def page(status: int, service: str, body: str) -> Response:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{service} (local simulator)</title><style>{_PAGE_STYLE}</style></head><body>"
        f'<main><p class="badge">Local simulator: not the real {service}</p>'
        f"<h1>{service}</h1>{body}</main></body></html>"
    )
    return Response(status, document.encode(), "text/html; charset=utf-8")


def auto_post(target: str, fields: dict[str, str]) -> Response:
    """Payflow Link's answer to the card form: the result, posted on to the store at once."""
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
        for name, value in fields.items()
    )
    body = (
        "<p>Returning you to the store…</p>"
        f'<form method="post" action="{html.escape(target)}">{inputs}'
        "<noscript><button>Continue</button></noscript></form>"
        "<script>document.forms[0].submit();</script>"
    )
    return page(200, "Payflow Link", body)


def paypal_approval(token: str, amount: str, invnum: str) -> Response:
    """PayPal's Express Checkout page: the amount, Continue and Cancel."""
    order = f" for order {html.escape(invnum)}" if invnum else ""
    body = (
        f"<p>Pay <strong>{html.escape(amount)}</strong>{order} with PayPal?</p>"
        '<form method="post" action="/cgi-bin/webscr">'
        '<input type="hidden" name="cmd" value="_express-checkout">'
        f'<input type="hidden" name="token" value="{html.escape(token)}">'
        '<button name="choice" value="continue">Continue</button> '
        '<button name="choice" value="cancel" class="secondary">Cancel and return to the store'
        "</button></form>"
    )
    return page(200, "PayPal", body)
