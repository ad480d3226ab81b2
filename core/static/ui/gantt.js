// Gantt widget (core/templates/core/ui/gantt.html): frappe-gantt from tasks given inline
// (data-tasks, JSON) or fetched from data-tasks-url; read-only. frappe-gantt writes task
// names into innerHTML, so names are escaped here first; weekend highlighting is off
// because frappe-gantt draws it with style attributes, which the CSP forbids.
(function () {
  "use strict";

  function escapeHtml(text) {
    return String(text == null ? "" : text)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  function message(widget, text) {
    var box = widget.querySelector("[data-gantt-message]");
    if (!box) { return; }
    box.textContent = text;
    box.classList.remove("d-none");
  }

  function draw(widget, tasks) {
    if (!Array.isArray(tasks) || tasks.length === 0) {
      message(widget, widget.dataset.emptyText);
      return;
    }
    var locale = widget.dataset.locale || document.documentElement.lang || "uk";
    var dates = new Intl.DateTimeFormat(locale, { day: "numeric", month: "short", year: "numeric" });
    var originals = {};
    var safe = tasks.map(function (task) {
      originals[String(task.id)] = task;
      var copy = Object.assign({}, task, { id: String(task.id), name: escapeHtml(task.name) });
      copy.custom_class = String(task.custom_class || "").replace(/[^\w-]/g, "") || undefined;
      return copy;
    });
    var target = widget.querySelector("[data-gantt-body]") || widget;
    widget.gantt = new window.Gantt(target, safe, {
      view_mode: widget.dataset.viewMode || "Week",
      language: locale,
      readonly: true,
      holidays: null,
      today_button: true,
      view_mode_select: false,
      scroll_to: "start",
      popup: function (popup) {
        var task = originals[popup.task.id] || popup.task;
        var start = new Date(task.start + "T00:00:00");
        var end = new Date(task.end + "T00:00:00");
        popup.set_title(escapeHtml(task.name));
        popup.set_subtitle(escapeHtml(dates.format(start) + " – " + dates.format(end)));
        popup.set_details(escapeHtml(widget.dataset.progressText + ": " +
                                     Math.round(Number(task.progress) || 0) + "%"));
      }
    });
    if (widget.gantt.$today_button && widget.dataset.todayText) {
      widget.gantt.$today_button.textContent = widget.dataset.todayText;  // frappe says "Today"
    }
  }

  function init(widget) {
    if (widget.dataset.ganttReady || typeof window.Gantt === "undefined") { return; }
    widget.dataset.ganttReady = "1";
    if (widget.dataset.tasks) {
      var tasks = [];
      try { tasks = JSON.parse(widget.dataset.tasks); } catch (error) { tasks = []; }
      draw(widget, tasks);
      return;
    }
    fetch(widget.dataset.tasksUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (data) { draw(widget, Array.isArray(data) ? data : data.tasks); })
      .catch(function () { message(widget, widget.dataset.loadErrorText); });
  }

  function scan(root) {
    var scope = root && root.querySelectorAll ? root : document;
    if (scope.matches && scope.matches("[data-gantt]")) { init(scope); }
    scope.querySelectorAll("[data-gantt]").forEach(init);
  }

  if (window.htmx) { window.htmx.onLoad(scan); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { scan(document); });
  } else {
    scan(document);
  }
})();
