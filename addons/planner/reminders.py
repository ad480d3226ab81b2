"""Reminders (RM-1): one table of what the enabled addons remind the user of on a day,
grouped by kind, with "Snooze to…" and "Done" where the owning addon allows them; the
dashboard widget and the shell's badge count today's rows.

The rows come from ``kernel().hooks.reminders(user, day)``, asked at most once per request
and day (:func:`reminders_for`): the badge, the widget and the page of the same request
share one answer. The badge's count is loaded by htmx after the page (unless the page
already knows it), so no page waits for the hooks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import abort, flash, g, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import DateField, HiddenField
from wtforms.validators import AnyOf, DataRequired, Length, Optional

from addons.planner.views import REMINDERS_READ, bp, local_today, parse_day
from core.hooktypes import DashboardWidget, Reminder, ShellIndicator
from core.security import has_permission, require
from core.web import kernel

log = logging.getLogger(__name__)
WIDGET_ROWS = 5
BADGE_MAX_AGE = 30  # seconds a browser may reuse the badge's count
GROUP_ROWS = 100  # rows shown per group unless the user asks for all of that group
ACTIONS = ("snooze", "done")


@dataclass(frozen=True)
class Group:
    """The rows of one kind, under one heading; ``total`` counts those not shown too."""

    kind: str
    label: str
    rows: list[Reminder]
    total: int


def reminders_for(user: Any, day: date) -> list[Reminder]:
    """``user``'s reminders on ``day``, asked once per request (badge, widget and page)."""
    cache: dict[tuple[int, date], list[Reminder]] = g.setdefault("planner_reminders", {})
    if (user.id, day) not in cache:
        cache[(user.id, day)] = kernel().hooks.reminders(user, day)
    return cache[(user.id, day)]


def _order(row: Reminder) -> tuple[date, str]:
    return row.due, str(row.title).casefold()


def grouped(rows: list[Reminder], limit: int, whole: str = "") -> list[Group]:
    """Rows grouped by kind (headed by ``kind_label``, else the kind), the groups sorted by
    heading and each group's rows by due day, then title: the first ``limit`` of each
    (the longest overdue first), all of the group ``whole``. A user with thousands of
    overdue rows gets a page that still renders in a blink."""
    by_kind: dict[str, list[Reminder]] = {}
    for row in rows:
        by_kind.setdefault(row.kind, []).append(row)
    groups = [
        Group(
            kind,
            str(items[0].kind_label or kind),
            sorted(items, key=_order)[: None if kind == whole else limit],
            len(items),
        )
        for kind, items in by_kind.items()
    ]
    return sorted(groups, key=lambda group: group.label.casefold())


# -- the page ------------------------------------------------------------------------------


class ActionForm(FlaskForm):
    """A row's "Snooze to…" or "Done" (the CSRF token comes with FlaskForm)."""

    key = HiddenField(validators=[DataRequired(), Length(max=200)])
    action = HiddenField(validators=[AnyOf(ACTIONS)])
    until = DateField(validators=[Optional()])
    day = HiddenField(validators=[Optional(), Length(max=20)])


@bp.route("/reminders")
@require(REMINDERS_READ)
def reminders() -> ResponseReturnValue:
    """The reminders of ``?day=YYYY-MM-DD`` (default: today), grouped by kind; ``?all=``
    a kind shows every row of that group."""
    today = local_today()
    raw = request.args.get("day", "")
    day = parse_day(raw) if raw else today
    if day is None:
        flash(_("«%(value)s» is not a date; showing today.", value=raw[:40]), "warning")
        day = today
    rows = reminders_for(current_user, day)
    return render_template(
        "planner/reminders.html",
        day=day,
        today=today,
        groups=grouped(rows, GROUP_ROWS, request.args.get("all", "")[:200]),
        count=len(rows),
        previous_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
        snooze_to=max(day, today) + timedelta(days=1),
        earliest_snooze=today + timedelta(days=1),
        breadcrumbs=[(_("Planner"), None), (_("Reminders"), None)],
    )


@bp.route("/reminders/action", methods=["POST"])
@require(REMINDERS_READ)
def reminder_action() -> ResponseReturnValue:
    """Snooze or mark done one row: saved by the addon the key belongs to, which checks
    its own rights (refused: 403; unknown key: 404)."""
    form = ActionForm()
    day = parse_day(form.day.data)
    back = url_for("planner.reminders", day=day.isoformat() if day else None)
    if not form.validate():
        flash(_("The reminder could not be changed: the form was not filled in right."), "danger")
        return redirect(back)
    until = form.until.data if form.action.data == "snooze" else None
    if form.action.data == "snooze" and (until is None or until <= local_today()):
        flash(_("Choose a day after today to snooze to."), "danger")
        return redirect(back)
    saved = kernel().hooks.reminder_action(current_user, form.key.data, form.action.data, until)
    if saved is None:
        abort(404)
    if not saved:
        abort(403)
    if until is not None:
        flash(_("Snoozed to %(day)s.", day=format_date(until)), "success")
    else:
        flash(_("Marked as done."), "success")
    return redirect(back)


# -- the dashboard widget and the shell's badge --------------------------------------------


def reminders_widget(user: Any) -> list[DashboardWidget]:
    """Today's count and the first rows, for users who may see their reminders."""
    if not has_permission(REMINDERS_READ, user):
        return []

    def render() -> Markup:
        rows = sorted(reminders_for(user, local_today()), key=_order)
        html = render_template(
            "planner/reminders_widget.html", rows=rows[:WIDGET_ROWS], count=len(rows)
        )
        return Markup(html)  # noqa: S704 - Jinja output, already escaped

    return [DashboardWidget("planner.reminders", _("Reminders"), render, order=10)]


def todays_count(user: Any) -> int | None:
    """How many reminders ``user`` has today; ``None`` when an addon's hook fails (logged):
    one broken addon must not take the shell down with it."""
    try:
        return len(reminders_for(user, local_today()))
    except Exception:
        log.exception("planner: the reminders badge could not be counted")
        return None


def badge_content(count: int | None) -> Markup:
    return Markup(render_template("planner/_badge.html", count=count))  # noqa: S704


def reminders_indicator(user: Any) -> list[ShellIndicator]:
    """The shell's reminders badge (hook ``shell_indicators``), for users who may see their
    reminders. Its count is loaded by htmx after the page, so no page waits for the addons'
    hooks, however slow one of them is; only when this request already asked for today's
    reminders (the reminders page) is it shown at once, with nothing to load."""
    if not has_permission(REMINDERS_READ, user):
        return []
    known = (user.id, local_today()) in g.get("planner_reminders", {})
    return [
        ShellIndicator(
            "planner.reminders",
            _("Reminders"),
            "alarm",
            url_for("planner.reminders"),
            count_url=url_for("planner.badge"),
            order=20,
            dom_id="planner-badge",
            content=badge_content(todays_count(user)) if known else "",
        )
    ]


@bp.route("/badge")
@require(REMINDERS_READ)
def badge() -> ResponseReturnValue:
    """The badge's content with today's count, loaded by htmx after each page. Browsers
    may keep it half a minute: moving between pages does not ask every addon again."""
    response = make_response(badge_content(todays_count(current_user)))
    response.headers["Cache-Control"] = f"private, max-age={BADGE_MAX_AGE}"
    response.headers["Vary"] = "Cookie"
    return response
