// Kanban board (core/ui/widgets.py Kanban). Markup: <div data-kanban data-move-url> with
// one [data-kanban-cards][data-column] list per column and .kanban-card[data-card-id] cards.
// A drop POSTs card, column and position (cards above it) the way htmx would (form body,
// HX-Request and X-CSRFToken headers); if the server refuses, the card goes back to where
// it was and the board shows the server's message. "Show more" buttons are plain htmx.
(function () {
  "use strict";

  function cardsBefore(card) {
    var count = 0;
    for (var node = card.previousElementSibling; node; node = node.previousElementSibling) {
      if (node.classList.contains("kanban-card")) { count += 1; }
    }
    return count;
  }

  function keepMoreLast(list) {
    // A card dropped below the "Show more" button belongs above it.
    var more = list.querySelector("[data-kanban-more]");
    if (more && more.nextElementSibling) { list.appendChild(more); }
  }

  function showMessage(board, text) {
    var box = board.querySelector("[data-kanban-message]");
    if (!box) { return; }
    box.textContent = text;
    box.classList.remove("d-none");
    window.clearTimeout(box.kanbanTimer);
    box.kanbanTimer = window.setTimeout(function () { box.classList.add("d-none"); }, 8000);
  }

  function updateTotals(board, totals) {
    Object.keys(totals || {}).forEach(function (key) {
      var column = board.querySelector('.kanban-column[data-column="' + CSS.escape(key) + '"]');
      if (!column) { return; }
      var count = column.querySelector("[data-kanban-count]");
      var amount = column.querySelector("[data-kanban-amount]");
      if (count) { count.textContent = totals[key].count_text; }
      if (amount) { amount.textContent = totals[key].amount; }
    });
  }

  function putBack(card, origin) {
    var next = origin.next;
    if (next && next.parentNode === origin.list) {
      origin.list.insertBefore(card, next);
    } else {
      var more = origin.list.querySelector("[data-kanban-more]");
      origin.list.insertBefore(card, more);
    }
  }

  function send(board, card, origin) {
    var list = card.parentNode;
    keepMoreLast(list);
    var body = new URLSearchParams();
    body.set("card", card.dataset.cardId);
    body.set("column", list.dataset.column);
    body.set("position", String(cardsBefore(card)));
    card.classList.add("kanban-saving");
    board.setAttribute("aria-busy", "true");
    function done() {
      card.classList.remove("kanban-saving");
      board.removeAttribute("aria-busy");
    }
    window.Vitrylo.postForm(board.dataset.moveUrl, body).then(function (answer) {
      var data = answer.data;
      done();
      if (answer.ok && data.ok) {
        updateTotals(board, data.totals);
        board.dispatchEvent(new CustomEvent("kanban:moved", {
          bubbles: true,
          detail: { card: body.get("card"), column: body.get("column"),
                    position: Number(body.get("position")) }
        }));
        return;
      }
      putBack(card, origin);
      showMessage(board, data.error || board.dataset.errorText);
    }).catch(function () {
      done();
      putBack(card, origin);
      showMessage(board, board.dataset.networkErrorText || board.dataset.errorText);
    });
  }

  function init(board) {
    if (board.dataset.kanbanReady || typeof window.Sortable === "undefined") { return; }
    board.dataset.kanbanReady = "1";
    var movable = Boolean(board.dataset.moveUrl);
    var origin = null;
    board.querySelectorAll("[data-kanban-cards]").forEach(function (list) {
      window.Sortable.create(list, {
        group: "kanban-" + board.dataset.kanban,
        draggable: ".kanban-card",
        filter: "[data-locked], a, button",
        preventOnFilter: false,
        disabled: !movable,
        animation: 150,
        ghostClass: "kanban-ghost",
        onStart: function (event) {
          origin = { list: event.from, next: event.item.nextElementSibling };
        },
        onEnd: function (event) {
          var from = origin;
          origin = null;
          if (!from || (event.from === event.to && event.oldIndex === event.newIndex)) { return; }
          send(board, event.item, from);
        }
      });
    });
  }

  function scan(root) {
    var scope = root && root.querySelectorAll ? root : document;
    if (scope.matches && scope.matches("[data-kanban]")) { init(scope); }
    scope.querySelectorAll("[data-kanban]").forEach(init);
  }

  if (window.htmx) { window.htmx.onLoad(scan); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { scan(document); });
  } else {
    scan(document);
  }
})();
