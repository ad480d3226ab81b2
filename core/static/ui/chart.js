// Chart widget (core/templates/core/ui/chart.html): a Chart.js 4 chart from the JSON config
// in data-chart (built on the server by core.ui.widgets.chart_config), drawn on the
// <canvas> inside. Plain data only: no callbacks travel in an attribute.
(function () {
  "use strict";

  function init(box) {
    if (box.dataset.chartReady || typeof window.Chart === "undefined") { return; }
    var canvas = box.querySelector("canvas");
    if (!canvas) { return; }
    var config;
    try { config = JSON.parse(box.dataset.chart); } catch (error) { return; }
    box.dataset.chartReady = "1";
    box.chart = new window.Chart(canvas, config);
  }

  function scan(root) {
    var scope = root && root.querySelectorAll ? root : document;
    if (scope.matches && scope.matches("[data-chart]")) { init(scope); }
    scope.querySelectorAll("[data-chart]").forEach(init);
  }

  if (window.htmx) { window.htmx.onLoad(scan); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { scan(document); });
  } else {
    scan(document);
  }
})();
