// Vitrylo shell behaviour. No inline scripts anywhere (the CSP forbids them):
// pages opt in with data- attributes.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]');

  // POST a form body the way htmx would (HX-Request and X-CSRFToken headers) and read a
  // JSON answer: resolves to {ok, status, data}; rejects only when the network fails.
  // Widgets (kanban, calendar) use it for their saves.
  function postForm(url, params) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
        "HX-Request": "true",
        "X-CSRFToken": csrf ? csrf.content : ""
      },
      body: params.toString()
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { ok: response.ok, status: response.status, data: data };
      });
    });
  }
  window.Vitrylo = window.Vitrylo || {};
  window.Vitrylo.postForm = postForm;

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

// --- List view (core/ui/listview.py) -------------------------------------------------
// <input type="checkbox" data-check-all="ids"> ticks every checkbox named "ids" in its
// form; ticking rows by hand keeps the header box in step (checked / mixed / clear).
(function () {
  "use strict";
  function boxes(form, name) {
    return Array.prototype.slice.call(
      form.querySelectorAll('input[type="checkbox"][name="' + CSS.escape(name) + '"]'));
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!target.form || !target.name && !target.dataset.checkAll) { return; }
    if (target.matches("[data-check-all]")) {
      boxes(target.form, target.dataset.checkAll).forEach(function (box) {
        box.checked = target.checked;
      });
      return;
    }
    var all = target.form.querySelector('[data-check-all="' + CSS.escape(target.name) + '"]');
    if (all) {
      var list = boxes(target.form, target.name);
      var ticked = list.filter(function (box) { return box.checked; }).length;
      all.checked = ticked > 0 && ticked === list.length;
      all.indeterminate = ticked > 0 && ticked < list.length;
    }
  });
})();
