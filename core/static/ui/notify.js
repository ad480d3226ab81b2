// Browser notifications for the shell's bell (addons/notifications, NT-4).
// The bell (notifications/_badge.html) is refreshed by htmx every 10 s; after each refresh
// this script reads its hidden data and, if the user allowed it, shows a system
// notification for each notification newer than the last one seen in this browser, and
// one for unread messages when their number grows. Nothing is shown for what was already
// there when the page first loaded. A [data-notify-enable] button asks for the permission
// (browsers only allow asking from a click); it stays hidden unless asking makes sense.
// No inline script anywhere (the CSP forbids it).
(function () {
  "use strict";
  var supported = "Notification" in window;
  var MAX_SHOWN = 3;

  function store(key, value) {
    try {
      if (value === undefined) { return window.localStorage.getItem(key); }
      window.localStorage.setItem(key, String(value));
    } catch (e) { /* private mode: remember nothing */ }
    return null;
  }

  function refreshButtons(root) {
    var buttons = (root || document).querySelectorAll("[data-notify-enable]");
    Array.prototype.forEach.call(buttons, function (button) {
      button.hidden = !supported || Notification.permission !== "default";
    });
  }

  function open(url) {
    window.focus();
    if (url && url.charAt(0) === "/" && url.charAt(1) !== "/") { window.location.href = url; }
  }

  function show(title, body, url, tag) {
    // The tag makes several tabs of the same user replace one notification, not repeat it.
    var note = new Notification(title, { body: body || "", tag: tag });
    note.addEventListener("click", function () { open(url); note.close(); });
  }

  function check(data) {
    var user = data.dataset.notifyUser || "";
    var seenKey = "vitrylo.notify.seen." + user;
    var messagesKey = "vitrylo.notify.messages." + user;
    var items = Array.prototype.slice.call(data.querySelectorAll("[data-notify-id]"));
    var newest = items.reduce(function (top, item) {
      return Math.max(top, parseInt(item.dataset.notifyId, 10) || 0);
    }, 0);
    var seenRaw = store(seenKey);
    var seen = parseInt(seenRaw, 10);
    var messages = parseInt(data.dataset.notifyMessages, 10) || 0;
    var messagesSeen = parseInt(store(messagesKey), 10);
    var allowed = supported && Notification.permission === "granted";

    if (seenRaw !== null && !isNaN(seen) && allowed) {
      var fresh = items.filter(function (item) {
        return (parseInt(item.dataset.notifyId, 10) || 0) > seen;
      });
      fresh.slice(0, MAX_SHOWN).forEach(function (item) {
        show(item.dataset.notifyTitle, item.dataset.notifyBody,
          item.dataset.notifyUrl || data.dataset.notifyInboxUrl,
          "vitrylo-notification-" + item.dataset.notifyId);
      });
    }
    if (!isNaN(messagesSeen) && messages > messagesSeen && allowed) {
      show(data.dataset.notifyMessagesText, "", data.dataset.notifyMessagesUrl,
        "vitrylo-messages-" + user);
    }
    if (seenRaw === null || isNaN(seen) || newest > seen) { store(seenKey, newest); }
    store(messagesKey, messages);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-notify-enable]");
    if (!button || !supported) { return; }
    event.preventDefault();
    Notification.requestPermission().then(function () { refreshButtons(); });
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    refreshButtons(event.target);
    var data = event.target.querySelector(".nt-badge-data");
    if (data) { check(data); }
  });

  document.addEventListener("DOMContentLoaded", function () { refreshButtons(); });
})();
