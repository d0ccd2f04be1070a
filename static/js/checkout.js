// The payment page's card step. The provider's own script (Stripe.js, Accept.js) is loaded from
// the address the server chose (the provider, or a local simulator in the demo) and talks to the
// provider directly: card numbers never reach our server.
(function () {
  "use strict";

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(script);
    });
  }

  function showError(form, message) {
    var box = form.querySelector("#card-errors");
    box.textContent = message;
    box.hidden = !message;
  }

  function busy(form, isBusy) {
    var button = form.querySelector("button[type=submit]");
    button.disabled = isBusy;
    button.setAttribute("aria-busy", isBusy ? "true" : "false");
  }

  var UNAVAILABLE = "The payment form could not be loaded. Please reload the page or choose a different payment method.";

  function stripeStep(form) {
    loadScript(form.dataset.script).then(function () {
      var stripe = window.Stripe(form.dataset.key);
      var card = stripe.elements().create("card");
      card.mount("#card-element");
      busy(form, false);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        busy(form, true);
        showError(form, "");
        stripe.confirmCardPayment(form.dataset.secret, {
          payment_method: { card: card, billing_details: { name: form.dataset.name } }
        }).then(function (result) {
          if (result.error) {
            showError(form, result.error.message);
            busy(form, false);
            return;
          }
          // Our server asks Stripe what happened; the id only says which payment to ask about.
          window.location.assign(form.dataset["return"] + "?payment_intent=" +
            encodeURIComponent(result.paymentIntent.id));
        });
      });
    }).catch(function () { showError(form, UNAVAILABLE); });
  }

  function acceptStep(form) {
    loadScript(form.dataset.script).then(function () {
      busy(form, false);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        busy(form, true);
        showError(form, "");
        var expiry = form.querySelector("#card-expiry").value.replace(/[^0-9]/g, "");
        var cardData = {
          cardNumber: form.querySelector("#card-number").value.replace(/[^0-9]/g, ""),
          month: expiry.slice(0, 2),
          year: expiry.slice(2),
          cardCode: form.querySelector("#card-code").value.trim()
        };
        var authData = { clientKey: form.dataset.clientKey, apiLoginID: form.dataset.login };
        window.Accept.dispatchData({ authData: authData, cardData: cardData }, function (response) {
          if (response.messages.resultCode !== "Ok") {
            showError(form, response.messages.message.map(function (m) { return m.text; }).join(" "));
            busy(form, false);
            return;
          }
          form.elements.dataDescriptor.value = response.opaqueData.dataDescriptor;
          form.elements.dataValue.value = response.opaqueData.dataValue;
          form.submit();  // only the named fields go: the token, never the card
        });
      });
    }).catch(function () { showError(form, UNAVAILABLE); });
  }

  function hostedStep(form) {
    form.addEventListener("submit", function () {
      var number = form.querySelector("#card-number");
      number.value = number.value.replace(/[^0-9]/g, "");
      busy(form, true);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("card-step");
    if (!form) { return; }
    var steps = { stripe: stripeStep, accept: acceptStep, hosted: hostedStep };
    (steps[form.dataset.step] || function () {})(form);
  });
})();
