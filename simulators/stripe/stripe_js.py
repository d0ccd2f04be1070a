"""A stand-in for Stripe.js (https://js.stripe.com/v3/), served by the Stripe simulator at `/v3/`.

It implements only what our checkout page calls: `Stripe(publishableKey)`,
`stripe.elements().create("card").mount(selector)` and `stripe.confirmCardPayment(clientSecret,
{payment_method: {card, billing_details: {name}}})`, which shows a 3D Secure challenge (a modal
with "Complete authentication" / "Fail authentication") when the card asks for one. As with the
real Stripe.js the card inputs have no `name` attributes (nothing reaches our server) and the
card goes straight to the API at the origin the script was loaded from.
"""

from __future__ import annotations

STRIPE_JS = r"""/* Local Stripe simulator: a stand-in for Stripe.js v3. Not the real Stripe.js. */
(function () {
  "use strict";
  var script = document.currentScript;
  var apiOrigin = new URL(script ? script.src : window.location.href).origin;

  function onlyDigits(text) {
    return String(text || "").replace(/\D/g, "");
  }

  // One labelled field; `flex` sizes it in the row (the number gets the most room).
  function input(labelText, placeholder, autocomplete, flex) {
    var label = document.createElement("label");
    label.style.cssText = "display:flex;flex-direction:column;gap:.2em;flex:" + flex +
      ";min-width:0;font:13px/1.3 system-ui,sans-serif;color:#30313d";
    label.appendChild(document.createTextNode(labelText));
    var field = document.createElement("input");
    field.type = "text";
    field.inputMode = "numeric";
    field.placeholder = placeholder;
    field.autocomplete = autocomplete;
    field.style.cssText = "box-sizing:border-box;width:100%;font:15px ui-monospace,monospace;" +
      "padding:.4em .5em;border:1px solid #c9cdd6;border-radius:4px;color:#30313d";
    label.appendChild(field);
    return { label: label, field: field };
  }

  function CardElement() {
    this._fields = null;
  }

  CardElement.prototype.mount = function (target) {
    var host = typeof target === "string" ? document.querySelector(target) : target;
    if (!host) {
      throw new Error("Stripe simulator: no element matches " + target);
    }
    var box = document.createElement("fieldset");
    box.className = "stripe-simulator-card";
    box.style.cssText = "border:0;padding:0;margin:0;min-width:0";
    var legend = document.createElement("legend");
    legend.textContent = "Card (local Stripe simulator)";
    legend.style.cssText = "padding:0 0 .5em;font:600 12px system-ui,sans-serif;color:#635bff";
    box.appendChild(legend);
    var row = document.createElement("div");
    row.style.cssText = "display:flex;flex-wrap:wrap;gap:.6em .75em";
    var number = input("Card number", "4242 4242 4242 4242", "cc-number", "2 1 12em");
    var expiry = input("Expiry", "MM / YY", "cc-exp", "1 1 5em");
    var cvc = input("CVC", "123", "cc-csc", "1 1 4em");
    [number, expiry, cvc].forEach(function (part) { row.appendChild(part.label); });
    box.appendChild(row);
    var hint = document.createElement("p");
    hint.style.cssText = "margin:.6em 0 0;font:12px/1.4 system-ui,sans-serif;color:#6a7383";
    hint.textContent = "Test cards: 4242 4242 4242 4242 succeeds; 4000 0025 0000 3155 asks for " +
      "3D Secure; 4000 0000 0000 0002 is declined; 4000 0000 0000 9995 has insufficient " +
      "funds; 4000 0000 0000 0069 is expired. Any future expiry, any CVC.";
    box.appendChild(hint);
    host.textContent = "";
    host.appendChild(box);
    this._fields = { number: number.field, expiry: expiry.field, cvc: cvc.field };
  };

  CardElement.prototype._read = function () {
    if (!this._fields) {
      return { error: { type: "validation_error", code: "incomplete_number",
                        message: "Your card number is incomplete." } };
    }
    var number = onlyDigits(this._fields.number.value);
    var expiry = onlyDigits(this._fields.expiry.value);
    var cvc = onlyDigits(this._fields.cvc.value);
    if (number.length < 12) {
      return { error: { type: "validation_error", code: "incomplete_number",
                        message: "Your card number is incomplete." } };
    }
    if (expiry.length !== 4 && expiry.length !== 6) {
      return { error: { type: "validation_error", code: "incomplete_expiry",
                        message: "Your card's expiration date is incomplete." } };
    }
    if (cvc.length < 3) {
      return { error: { type: "validation_error", code: "incomplete_cvc",
                        message: "Your card's security code is incomplete." } };
    }
    var year = expiry.slice(2);
    return { card: { number: number, exp_month: String(parseInt(expiry.slice(0, 2), 10)),
                     exp_year: year.length === 2 ? "20" + year : year, cvc: cvc } };
  };

  function Stripe(publishableKey) {
    if (!(this instanceof Stripe)) {
      return new Stripe(publishableKey);
    }
    if (!/^pk_(test|live)_/.test(publishableKey || "")) {
      throw new Error("Stripe simulator: Stripe() needs a publishable key (pk_test_…).");
    }
    this._key = publishableKey;
  }

  Stripe.prototype.elements = function () {
    return {
      create: function (type) {
        if (type !== "card") {
          throw new Error("Stripe simulator: only the \"card\" element is simulated.");
        }
        return new CardElement();
      },
    };
  };

  Stripe.prototype.confirmCardPayment = function (clientSecret, options) {
    var method = (options && options.payment_method) || {};
    var read = method.card instanceof CardElement ? method.card._read() : {
      error: { type: "validation_error", code: "invalid_request",
               message: "Stripe simulator: pass {payment_method: {card: <card element>}}." } };
    if (read.error) {
      return Promise.resolve({ error: read.error });
    }
    var intentId = String(clientSecret || "").split("_secret_")[0];
    var body = new URLSearchParams();
    body.set("key", this._key);
    body.set("client_secret", clientSecret);
    body.set("payment_method_data[type]", "card");
    Object.keys(read.card).forEach(function (name) {
      body.set("payment_method_data[card][" + name + "]", read.card[name]);
    });
    var name = method.billing_details && method.billing_details.name;
    if (name) {
      body.set("payment_method_data[billing_details][name]", name);
    }
    var key = this._key;
    var intentUrl = apiOrigin + "/v1/payment_intents/" + encodeURIComponent(intentId);
    return post(intentUrl + "/confirm", body)
      .then(function (answer) {
        if (answer.status !== "requires_action") {
          return answer;
        }
        return challenge(answer).then(function (outcome) {
          var reply = new URLSearchParams();
          reply.set("key", key);
          reply.set("client_secret", clientSecret);
          reply.set("outcome", outcome);
          return post(intentUrl + "/authenticate", reply);
        });
      })
      .then(settled)
      .catch(function (failure) {
        return { error: { type: "api_connection_error", code: "",
                          message: "Could not reach the Stripe simulator: " + failure } };
      });
  };

  function post(url, body) {
    return fetch(url, { method: "POST", body: body }).then(function (response) {
      return response.json();
    });
  }

  function settled(answer) {
    if (answer.error) {
      return { error: answer.error };
    }
    if (answer.status === "requires_payment_method" && answer.last_payment_error) {
      return { error: Object.assign({}, answer.last_payment_error, { payment_intent: answer }) };
    }
    return { paymentIntent: answer };
  }

  // Stripe's currencies without minor units, and those with three (whose amounts end in 0).
  var ZERO_DECIMAL = ["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf",
                      "ugx", "vnd", "vuv", "xaf", "xof", "xpf"];
  var THREE_DECIMAL = ["bhd", "jod", "kwd", "omr", "tnd"];

  function formatAmount(minorUnits, currency) {
    var code = String(currency).toLowerCase();
    var digits = ZERO_DECIMAL.indexOf(code) >= 0 ? 0 : THREE_DECIMAL.indexOf(code) >= 0 ? 3 : 2;
    return (minorUnits / Math.pow(10, digits)).toFixed(digits) + " " + code.toUpperCase();
  }

  // The bank's 3D Secure page, as Stripe.js shows it in a modal: the buyer completes or fails.
  function challenge(intent) {
    return new Promise(function (resolve) {
      var overlay = document.createElement("div");
      overlay.setAttribute("role", "dialog");
      overlay.setAttribute("aria-modal", "true");
      overlay.setAttribute("aria-labelledby", "stripe-simulator-3ds-title");
      overlay.style.cssText = "position:fixed;inset:0;background:rgba(0,0,0,.5);display:flex;" +
        "align-items:center;justify-content:center;z-index:2147483647";
      var box = document.createElement("div");
      box.style.cssText = "background:#fff;border-top:4px solid #635bff;border-radius:8px;" +
        "padding:1.5em 1.75em;max-width:32em;font:15px/1.5 system-ui,sans-serif;color:#30313d;" +
        "box-shadow:0 10px 30px rgba(0,0,0,.25)";
      var badge = document.createElement("p");
      badge.textContent = "Local Stripe simulator: a test page, not your bank";
      badge.style.cssText = "margin:0 0 .5em;font:600 12px system-ui,sans-serif;color:#635bff";
      var title = document.createElement("h2");
      title.id = "stripe-simulator-3ds-title";
      title.textContent = "3D Secure authentication";
      title.style.cssText = "margin:0 0 .5em;font-size:19px";
      var text = document.createElement("p");
      text.textContent = "Your bank asks you to confirm this payment of " +
        formatAmount(intent.amount, intent.currency) + ".";
      text.style.cssText = "margin:0 0 1.25em";
      var actions = document.createElement("div");
      actions.style.cssText = "display:flex;flex-wrap:wrap;gap:.6em";
      [["Complete authentication", "complete", "#635bff", "#fff"],
       ["Fail authentication", "fail", "#eef0f4", "#30313d"]].forEach(function (choice) {
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = choice[0];
        button.style.cssText = "font:inherit;padding:.45em 1em;border:0;border-radius:6px;" +
          "cursor:pointer;background:" + choice[2] + ";color:" + choice[3];
        button.addEventListener("click", function () {
          overlay.remove();
          resolve(choice[1]);
        });
        actions.appendChild(button);
      });
      box.appendChild(badge);
      box.appendChild(title);
      box.appendChild(text);
      box.appendChild(actions);
      overlay.appendChild(box);
      document.body.appendChild(overlay);
    });
  }

  window.Stripe = Stripe;
})();
"""
