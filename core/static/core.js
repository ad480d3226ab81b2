// Vitrylo shell behaviour. No inline scripts anywhere (the CSP forbids them):
// pages opt in with data- attributes.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]');

  // Every htmx request that changes something carries the CSRF token.
  document.addEventListener("htmx:configRequest", function (event) {
    if (csrf) { event.detail.headers["X-CSRFToken"] = csrf.content; }
  });

  // <form data-confirm="Delete?"> and <button data-confirm="..."> ask first.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var message = (submitter && submitter.dataset.confirm) || form.dataset.confirm;
    if (message && !window.confirm(message)) { event.preventDefault(); }
  }, true);

  // <select data-autosubmit> submits its form on change (filters, page size).
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-autosubmit]")) { event.target.form.requestSubmit(); }
  });
})();
