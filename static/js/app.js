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
