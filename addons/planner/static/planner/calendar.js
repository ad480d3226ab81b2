// Planner calendar filters (addons/planner/templates/planner/calendar.html), on top of the
// UI kit's calendar widget (core/static/ui/calendar.js, which leaves the FullCalendar
// object on its element as .calendar).
// - Kinds: a checkbox per kind seen in the events loaded so far (label from the event's
//   kindLabel); unticking hides that kind's events in the browser, without a reload.
// - Employee (<select name="owner">, only for managers with the right): the feed is asked
//   again with ?owner=<id>.
(function () {
  "use strict";

  function hiddenKinds(form) {
    var hidden = {};
    form.querySelectorAll("input[name=kinds]").forEach(function (box) {
      if (!box.checked) { hidden[box.value] = true; }
    });
    return hidden;
  }

  function applyKinds(calendar, form) {
    var hidden = hiddenKinds(form);
    calendar.getEvents().forEach(function (event) {
      var wanted = hidden[event.extendedProps.kind] ? "none" : "auto";
      if (event.display !== wanted) { event.setProp("display", wanted); }
    });
  }

  function addKind(box, kind, label) {
    var id = "planner-kind-" + box.querySelectorAll("input").length;
    var wrap = document.createElement("div");
    wrap.className = "form-check form-check-inline mb-0";
    var input = document.createElement("input");
    input.className = "form-check-input";
    input.type = "checkbox";
    input.name = "kinds";
    input.value = kind;
    input.id = id;
    input.checked = true;
    var text = document.createElement("label");
    text.className = "form-check-label";
    text.htmlFor = id;
    text.textContent = label || kind;
    wrap.appendChild(input);
    wrap.appendChild(text);
    box.appendChild(wrap);
  }

  function collectKinds(events, form) {
    var box = form.querySelector("[data-planner-kinds]");
    var known = {};
    box.querySelectorAll("input[name=kinds]").forEach(function (input) { known[input.value] = true; });
    events.forEach(function (event) {
      var kind = event.extendedProps.kind || "";
      if (kind && !known[kind]) {
        known[kind] = true;
        addKind(box, kind, event.extendedProps.kindLabel);
      }
    });
    var empty = form.querySelector("[data-planner-no-kinds]");
    if (empty) { empty.classList.toggle("d-none", Object.keys(known).length > 0); }
  }

  function reload(widget, calendar, owner) {
    var url = new URL(widget.dataset.eventsUrl, window.location.href);
    if (owner) { url.searchParams.set("owner", owner); }
    calendar.getEventSources().forEach(function (source) { source.remove(); });
    calendar.addEventSource({
      url: url.pathname + url.search,
      failure: function () {
        var box = widget.querySelector("[data-calendar-message]");
        if (box) {
          box.textContent = widget.dataset.loadErrorText;
          box.classList.remove("d-none");
        }
      }
    });
  }

  function init(form) {
    var holder = document.getElementById(form.dataset.plannerFilters);
    var widget = holder && holder.querySelector("[data-calendar]");
    var calendar = widget && widget.calendar;
    if (!calendar || form.dataset.plannerReady) { return Boolean(calendar); }
    form.dataset.plannerReady = "1";
    calendar.on("eventsSet", function (events) {
      collectKinds(events, form);
      applyKinds(calendar, form);
    });
    collectKinds(calendar.getEvents(), form);
    form.addEventListener("change", function (event) {
      if (event.target.name === "owner") {
        reload(widget, calendar, event.target.value);
      } else {
        applyKinds(calendar, form);
      }
    });
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    return true;
  }

  function scan() {
    document.querySelectorAll("form[data-planner-filters]").forEach(function (form) {
      if (!init(form)) {  // the widget not built yet: try again once the page has loaded
        window.addEventListener("load", function () { init(form); }, { once: true });
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", scan);
  } else {
    scan();
  }
})();
