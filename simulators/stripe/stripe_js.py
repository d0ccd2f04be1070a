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

  function input(labelText, placeholder, autocomplete, size) {
    var label = document.createElement("label");
    label.style.cssText = "display:inline-block;margin:0 .75em .5em 0;font:14px sans-serif";
    label.appendChild(document.createTextNode(labelText));
    label.appendChild(document.createElement("br"));
    var field = document.createElement("input");
    field.type = "text";
    field.inputMode = "numeric";
    field.placeholder = placeholder;
    field.autocomplete = autocomplete;
    field.size = size;
    field.style.cssText = "font:16px monospace;padding:.3em";
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
    box.style.cssText = "border:2px dashed #635bff;padding:.75em;margin:0";
    var legend = document.createElement("legend");
    legend.textContent = "Card (local Stripe simulator)";
    legend.style.cssText = "font:bold 14px sans-serif;color:#635bff";
    box.appendChild(legend);
    var number = input("Card number", "4242 4242 4242 4242", "cc-number", 22);
    var expiry = input("Expiry", "MM / YY", "cc-exp", 7);
    var cvc = input("CVC", "123", "cc-csc", 4);
    [number, expiry, cvc].forEach(function (part) { box.appendChild(part.label); });
    var hint = document.createElement("p");
    hint.style.cssText = "margin:.25em 0 0;font:12px sans-serif;color:#555";
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

  // The bank's 3D Secure page, as Stripe.js shows it in a modal: the buyer completes or fails.
  function challenge(intent) {
    return new Promise(function (resolve) {
      var overlay = document.createElement("div");
      overlay.setAttribute("role", "dialog");
      overlay.setAttribute("aria-modal", "true");
      overlay.style.cssText = "position:fixed;inset:0;background:rgba(0,0,0,.5);display:flex;" +
        "align-items:center;justify-content:center;z-index:2147483647";
      var box = document.createElement("div");
      box.style.cssText = "background:#fff;border:2px dashed #635bff;padding:1.5em;" +
        "max-width:26em;font:15px sans-serif";
      var title = document.createElement("h2");
      title.textContent = "3D Secure (local Stripe simulator)";
      title.style.cssText = "margin:0 0 .5em;font-size:18px;color:#635bff";
      var text = document.createElement("p");
      text.textContent = "Your bank asks you to confirm this payment of " + intent.amount +
        " " + String(intent.currency).toUpperCase() + " (in minor units). This is a test page.";
      box.appendChild(title);
      box.appendChild(text);
      [["Complete authentication", "complete"], ["Fail authentication", "fail"]].forEach(
        function (choice) {
          var button = document.createElement("button");
          button.type = "button";
          button.textContent = choice[0];
          button.style.cssText = "margin:.5em .5em 0 0;font:15px sans-serif;padding:.4em .8em";
          button.addEventListener("click", function () {
            overlay.remove();
            resolve(choice[1]);
          });
          box.appendChild(button);
        });
      overlay.appendChild(box);
      document.body.appendChild(overlay);
    });
  }

  window.Stripe = Stripe;
})();
"""
