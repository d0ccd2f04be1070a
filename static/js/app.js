// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // Close an open <details> menu when the user clicks elsewhere or presses Escape.
  function closeMenus(except) {
    document.querySelectorAll("details.menu[open], details.navmenu[open]").forEach(function (menu) {
      if (menu !== except) { menu.removeAttribute("open"); }
    });
  }
  document.addEventListener("click", function (event) {
    closeMenus(event.target.closest("details.menu, details.navmenu"));
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { closeMenus(null); }
  });
  // After a refused submit, bring the first invalid field into view and focus it: it may be far
  // down a long settings form, and a secret field has to be typed again.
  document.addEventListener("DOMContentLoaded", function () {
    var invalid = document.querySelector("form [aria-invalid=true]");
    if (invalid) {
      invalid.focus({ preventScroll: true });
      invalid.scrollIntoView({ block: "center" });
    }
  });
})();

// The confirmation for deleting or deactivating an integration opens as an in-page dialog.
// Without JavaScript (or if the fetch fails) the same content is a page of its own.
(function () {
  "use strict";
  var dialog = null;

  function ensureDialog() {
    if (dialog) { return dialog; }
    dialog = document.createElement("dialog");
    dialog.className = "modal";
    dialog.setAttribute("aria-labelledby", "confirm-title");
    dialog.innerHTML = '<div class="dialog-body"></div>';
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) { dialog.close(); }  // a click on the backdrop
    });
    document.body.appendChild(dialog);
    return dialog;
  }

  function openConfirmation(url) {
    var separator = url.indexOf("?") >= 0 ? "&" : "?";
    fetch(url + separator + "partial=1", { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        var box = ensureDialog();
        box.querySelector(".dialog-body").innerHTML = html;
        box.showModal();
        var cancel = box.querySelector("[data-close-dialog]");
        if (cancel) { cancel.focus(); }
      })
      .catch(function () { window.location.href = url; });
  }

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("a[data-confirm-dialog]");
    if (opener) {
      event.preventDefault();
      var menu = opener.closest("details");
      if (menu) { menu.removeAttribute("open"); }
      openConfirmation(opener.href);
      return;
    }
    var closer = event.target.closest("[data-close-dialog]");
    if (closer && dialog && dialog.open && dialog.contains(closer)) {
      event.preventDefault();
      dialog.close();
    }
  });
})();

// Payment rule destinations: "Add destination" clones the formset's empty row (without this
// script an empty row is always there), and a row's region list follows its country.
(function () {
  "use strict";
  function regionData() {
    var node = document.getElementById("subdivisions");
    return node ? JSON.parse(node.textContent) : {};
  }
  function fillRegions(countrySelect, regions) {
    var row = countrySelect.closest("[data-formset-row]");
    var regionSelect = row && row.querySelector("select[name$='-region']");
    if (!regionSelect) { return; }
    var current = regionSelect.value;
    regionSelect.length = 1; // keep "Whole country"
    (regions[countrySelect.value] || []).forEach(function (pair) {
      var option = new Option(pair[1], pair[0]);
      option.selected = pair[0] === current;
      regionSelect.add(option);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var formset = document.querySelector("[data-formset]");
    if (formset) {
      var prefix = formset.getAttribute("data-formset");
      var total = formset.querySelector("input[name='" + prefix + "-TOTAL_FORMS']");
      var body = formset.querySelector("[data-formset-body]");
      var template = formset.querySelector("template[data-formset-template]");
      var add = formset.querySelector("[data-formset-add]");
      var regions = regionData();
      formset.querySelectorAll(".no-js-only").forEach(function (node) { node.hidden = true; });
      add.hidden = false;
      add.addEventListener("click", function () {
        var index = parseInt(total.value, 10);
        var html = template.innerHTML.replace(/__prefix__/g, String(index));
        body.insertAdjacentHTML("beforeend", html);
        total.value = String(index + 1);
        body.lastElementChild.querySelector("select").focus();
      });
      formset.addEventListener("change", function (event) {
        if (event.target.matches("select[name$='-country']")) { fillRegions(event.target, regions); }
      });
    }
    // "Select all" for the rows of a list with bulk actions.
    document.querySelectorAll("input[data-select-all]").forEach(function (all) {
      var name = all.getAttribute("data-select-all");
      all.hidden = false;
      all.addEventListener("change", function () {
        document.querySelectorAll("input[type=checkbox][name='" + name + "']").forEach(function (box) {
          box.checked = all.checked;
        });
      });
    });
  });
})();
