"""The browser-facing part of the Authorize.Net simulator: a stand-in Accept.js and its token call.

Real Accept.js (https://jstest.authorize.net/v1/Accept.js) validates the card in the browser,
sends it to Authorize.Net with the merchant's API login ID and public client key, and hands the
page a one-time `opaqueData` (the "payment nonce"). The stand-in does the same against the
simulator: `POST /v1/accept/token`. It posts as text/plain so that the browser sends no CORS
preflight (the page is on another origin) and answers with `Access-Control-Allow-Origin: *`.
Differences from the real library, on purpose: it needs no HTTPS (E_WC_02) and no handshake.
"""

from __future__ import annotations

import json
from datetime import date

# Accept.js's own message texts (its E_WC_* codes), from the Accept.js reference.
ACCEPT_MESSAGES = {
    "E_WC_04": "Please provide mandatory field to library.",
    "E_WC_05": "Please provide valid credit card number.",
    "E_WC_06": "Please provide valid expiration month.",
    "E_WC_07": "Please provide valid expiration year.",
    "E_WC_08": "Expiration date must be in the future.",
    "E_WC_10": "Please provide valid apiloginid.",
    "E_WC_14": "Accept.js encryption failed.",
    "E_WC_15": "Please provide valid CVV.",
    "E_WC_18": "Client key is required.",
    "E_WC_21": "User authentication failed due to invalid authentication values.",
}


def luhn_valid(number: str) -> bool:
    total = 0
    for position, digit in enumerate(reversed(number)):
        value = int(digit)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_errors(card_number: str, month: str, year: str, cvv: str, *, today: date) -> list[str]:
    """The E_WC_* codes Accept.js reports for this card data, in its order."""
    errors = []
    number = "".join(ch for ch in card_number if ch not in " .,:-")
    if not (number.isdigit() and 13 <= len(number) <= 16 and luhn_valid(number)):
        errors.append("E_WC_05")
    month = month.zfill(2) if month.isdigit() and len(month) == 1 else month
    month_ok = month.isdigit() and len(month) == 2 and 1 <= int(month) <= 12
    year_ok = year.isdigit() and len(year) in (2, 4)
    if not year_ok:
        errors.append("E_WC_07")
    elif month_ok:
        full_year = int(year) + 2000 if len(year) == 2 else int(year)
        if (full_year, int(month)) < (today.year, today.month):
            errors.append("E_WC_08")
    if not month_ok:
        errors.append("E_WC_06")
    if cvv and not (cvv.isdigit() and len(cvv) in (3, 4)):
        errors.append("E_WC_15")
    return errors


ACCEPT_JS = r"""/* Accept.js stand-in served by the LOCAL Authorize.Net SIMULATOR.
   Not Authorize.Net's library. */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = script ? script.src.replace(/\/v1\/Accept\.js.*$/, "") : "";
  var MESSAGES = __MESSAGES__;

  function failure(codes) {
    return {
      messages: {
        resultCode: "Error",
        message: codes.map(function (code) { return { code: code, text: MESSAGES[code] }; })
      }
    };
  }

  function luhn(number) {
    var sum = 0;
    for (var i = 0; i < number.length; i++) {
      var digit = parseInt(number.charAt(number.length - 1 - i), 10);
      if (i % 2) { digit *= 2; if (digit > 9) { digit -= 9; } }
      sum += digit;
    }
    return sum % 10 === 0;
  }

  function validate(secureData) {
    if (!secureData || !secureData.authData || !secureData.cardData) { return ["E_WC_04"]; }
    var card = secureData.cardData, auth = secureData.authData, codes = [];
    var number = String(card.cardNumber || "").replace(/[\. ,:-]+/g, "");
    if (!/^[0-9]{13,16}$/.test(number) || !luhn(number)) { codes.push("E_WC_05"); }
    var month = String(card.month || ""); if (month.length === 1) { month = "0" + month; }
    var year = String(card.year || "");
    var monthOk = /^(0[1-9]|1[012])$/.test(month);
    if (!/^([0-9]{2}|[0-9]{4})$/.test(year)) { codes.push("E_WC_07"); }
    else if (monthOk) {
      var fullYear = year.length === 2 ? 2000 + parseInt(year, 10) : parseInt(year, 10);
      var lastDay = new Date(fullYear, parseInt(month, 10), 0, 23, 59, 59, 999);
      if (lastDay < new Date()) { codes.push("E_WC_08"); }
    }
    if (!monthOk) { codes.push("E_WC_06"); }
    if (!auth.apiLoginID) { codes.push("E_WC_10"); }
    if (!auth.clientKey) { codes.push("E_WC_18"); }
    if (card.cardCode && !/^[0-9]{3,4}$/.test(String(card.cardCode))) { codes.push("E_WC_15"); }
    return codes;
  }

  function dispatchData(secureData, handler) {
    var codes = validate(secureData);
    if (codes.length) { handler(failure(codes)); return; }
    var card = secureData.cardData;
    var body = {
      securePaymentContainerRequest: {
        merchantAuthentication: {
          name: secureData.authData.apiLoginID,
          clientKey: secureData.authData.clientKey
        },
        data: {
          type: "TOKEN",
          token: {
            cardNumber: String(card.cardNumber).replace(/[\. ,:-]+/g, ""),
            month: String(card.month),
            year: String(card.year),
            cardCode: String(card.cardCode || "")
          }
        }
      }
    };
    var request = new XMLHttpRequest();
    request.open("POST", base + "/v1/accept/token", true);
    // text/plain keeps this a "simple" cross-origin request: no preflight is needed.
    request.setRequestHeader("Content-Type", "text/plain;charset=UTF-8");
    request.onload = function () {
      try { handler(JSON.parse(request.responseText)); }
      catch (error) { handler(failure(["E_WC_14"])); }
    };
    request.onerror = function () { handler(failure(["E_WC_14"])); };
    request.send(JSON.stringify(body));
  }

  window.Accept = { dispatchData: dispatchData, simulator: true };
})();
"""


def accept_js() -> bytes:
    return ACCEPT_JS.replace("__MESSAGES__", json.dumps(ACCEPT_MESSAGES)).encode()


DEMO_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Accept.js — local Authorize.Net simulator</title>
<style>
 body { font: 15px/1.45 system-ui, sans-serif; max-width: 34rem; margin: 2rem auto; color: #222; }
 .banner { background: #fff3cd; border: 1px solid #e0c36a; padding: .6rem .8rem;
           border-radius: 4px; }
 label { display: block; margin-top: .7rem; } input { font: inherit; padding: .3rem; width: 100%%; }
 button { margin-top: 1rem; font: inherit; padding: .4rem 1rem; }
 pre { background: #f4f4f4; padding: .6rem; white-space: pre-wrap; word-break: break-all; }
</style></head>
<body>
<p class="banner"><strong>Local simulator.</strong> This page and its Accept.js are served by the
Authorize.Net simulator on this machine; no card data leaves it. Test cards: 4111111111111111 and
4007000000027 approve, 4222222222222 is declined, 4012888818888 is held for review.</p>
<form id="card">
 <label>API login ID <input name="login" value="%(login)s"></label>
 <label>Client key <input name="client_key" value="%(client_key)s"></label>
 <label>Card number <input name="number" value="4111111111111111" autocomplete="off"></label>
 <label>Month <input name="month" value="12"></label>
 <label>Year <input name="year" value="%(year)s"></label>
 <label>CVV <input name="cvv" value="123" autocomplete="off"></label>
 <button type="submit">Get opaque data</button>
</form>
<pre id="out">Nothing sent yet.</pre>
<script src="/v1/Accept.js"></script>
<script>
document.getElementById("card").addEventListener("submit", function (event) {
  event.preventDefault();
  var f = event.target.elements;
  Accept.dispatchData({
    authData: { apiLoginID: f.login.value, clientKey: f.client_key.value },
    cardData: { cardNumber: f.number.value, month: f.month.value, year: f.year.value,
                cardCode: f.cvv.value }
  }, function (response) {
    document.getElementById("out").textContent = JSON.stringify(response, null, 2);
  });
});
</script>
</body></html>
"""
