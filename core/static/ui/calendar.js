// Calendar widget (core/templates/core/ui/calendar.html): FullCalendar 6 with day, week and
// month views in the page's language (Ukrainian by default). Events come from
// data-events-url, which FullCalendar asks with ?start=&end= for the visible range. With
// data-move-url, events can be dragged and resized: each change is POSTed (id, start, end,
// all_day; CSRF header as htmx sends it) and reverted if the server answers with an error.
(function () {
  "use strict";

  function showMessage(widget, text) {
    var box = widget.querySelector("[data-calendar-message]");
    if (!box) { return; }
    box.textContent = text;
    box.classList.remove("d-none");
    window.clearTimeout(box.calendarTimer);
    box.calendarTimer = window.setTimeout(function () { box.classList.add("d-none"); }, 8000);
  }

  function saver(widget) {
    return function (info) {
      var event = info.event;
      var body = new URLSearchParams();
      body.set("id", event.id);
      body.set("start", event.startStr);
      body.set("end", event.endStr || "");
      body.set("all_day", event.allDay ? "1" : "0");
      window.Vitrylo.postForm(widget.dataset.moveUrl, body).then(function (answer) {
        if (answer.ok && answer.data.ok !== false) { return; }
        info.revert();
        showMessage(widget, answer.data.error || widget.dataset.errorText);
      }).catch(function () {
        info.revert();
        showMessage(widget, widget.dataset.errorText);
      });
    };
  }

  function init(widget) {
    if (widget.dataset.calendarReady || typeof window.FullCalendar === "undefined") { return; }
    widget.dataset.calendarReady = "1";
    var movable = Boolean(widget.dataset.moveUrl);
    var target = widget.querySelector("[data-calendar-body]") || widget;
    var calendar = new window.FullCalendar.Calendar(target, {
      locale: widget.dataset.locale || document.documentElement.lang || "uk",
      initialView: widget.dataset.initialView || "dayGridMonth",
      headerToolbar: {
        left: "prev,next today",
        center: "title",
        right: widget.dataset.views || "dayGridMonth,timeGridWeek,timeGridDay"
      },
      height: widget.dataset.height || "auto",
      scrollTime: widget.dataset.scrollTime || "08:00:00",
      nowIndicator: true,
      editable: movable,
      eventStartEditable: movable,
      eventDurationEditable: movable,
      events: {
        url: widget.dataset.eventsUrl,
        failure: function () { showMessage(widget, widget.dataset.loadErrorText); }
      },
      eventDrop: movable ? saver(widget) : null,
      eventResize: movable ? saver(widget) : null
    });
    calendar.render();
    widget.calendar = calendar;
  }

  function scan(root) {
    var scope = root && root.querySelectorAll ? root : document;
    if (scope.matches && scope.matches("[data-calendar]")) { init(scope); }
    scope.querySelectorAll("[data-calendar]").forEach(init);
  }

  if (window.htmx) { window.htmx.onLoad(scan); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { scan(document); });
  } else {
    scan(document);
  }
})();
