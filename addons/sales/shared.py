"""What the contacts, funnel and telemarketing areas have in common, written once: select
choices that keep the stored value (users, a counterparty's persons), the typed-counterparty
field, a counterparty card's tab, saving under optimistic locking, and re-pointing rows
after a merge.

``views.py`` keeps the blueprint and the helpers every area was given from the start; this
module holds what the areas turned out to repeat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from wtforms.fields.choices import SelectChoice
from wtforms.fields.core import Field
from wtforms.utils import unset_value
from wtforms.widgets import TextInput

from addons.crm_base.contacts import clean_text
from addons.crm_base.models import PERSON_SUBJECT, SUBJECT, Counterparty, Person, PersonLink
from addons.crm_base.notes import posted_ok, reaches_counterparty, wants_fragment
from addons.crm_base.persons import COUNTERPARTY_REF, counterparty_ref, resolve_counterparty
from addons.sales.views import active_users
from core.security import has_permission, scope_filter, user_names
from core.ui.formview import FormView
from core.web import db_session

COUNTERPARTY_READ = "crm_base.counterparty.read"
PERSON_READ = "crm_base.person.read"
BLANK = SelectChoice("", "—")
CHOICES_LIMIT = 200  # options of a select that follows the counterparty


# -- choices --------------------------------------------------------------------------------


def optional_id(value: Any) -> int | None:
    """A select's value as an id; the empty choice is "none"."""
    return None if value in (None, "") else int(value)


def with_blank(rows: Iterable[tuple[int, str]]) -> list[SelectChoice]:
    """``(id, label)`` rows as choices after the empty one."""
    return [BLANK, *(SelectChoice(i, label) for i, label in rows)]


def kept_choices(
    rows: Iterable[tuple[int, str]], keep: int | None, name_of: Callable[[int], str]
) -> list[SelectChoice]:
    """``rows`` as choices, plus the stored value when it is not among them (an inactive
    user, a person the user no longer sees): saving the form must not silently drop it."""
    rows = list(rows)
    choices = [SelectChoice(str(i), label) for i, label in rows]
    if keep is not None and all(i != keep for i, _label in rows):
        choices.append(SelectChoice(str(keep), name_of(keep)))
    return choices


def stored_name(column: Any, key: Any) -> Callable[[int], str]:
    """``name_of`` for :func:`kept_choices`: the label ``column`` of the row ``key`` names."""
    return lambda row_id: db_session().scalar(select(column).where(key == row_id)) or ""


def person_choices(counterparty_id: int | None, keep: int | None = None) -> list[SelectChoice]:
    """The counterparty's contact persons the user may see (main contacts first)."""
    rows: list[tuple[int, str]] = []
    if counterparty_id is not None and has_permission(PERSON_READ):
        stmt = (
            select(Person.id, Person.full_name)
            .join(PersonLink, PersonLink.person_id == Person.id)
            .where(PersonLink.counterparty_id == counterparty_id)
            .order_by(PersonLink.is_primary.desc(), Person.full_name, Person.id)
            .limit(CHOICES_LIMIT)
        )
        stmt = scope_filter(stmt, PERSON_SUBJECT, Person.manager_id)
        rows = [(i, n) for i, n in db_session().execute(stmt)]
    return [BLANK, *kept_choices(rows, keep, stored_name(Person.full_name, Person.id))]


def user_choices(keep: int | None, blank: bool = True) -> list[SelectChoice]:
    """Active users, and ``keep`` (the stored one) even if made inactive since."""
    users = kept_choices(active_users(), keep, lambda uid: user_names([uid]).get(uid, str(uid)))
    return [BLANK, *users] if blank else users


def user_label(user: Any) -> Any:
    """SQL for a user's name, else the login (as ``user_names`` shows it): list columns."""
    return func.coalesce(func.nullif(user.name, ""), user.login)


# -- the typed counterparty ---------------------------------------------------------------


class CounterpartyField(Field):
    """A counterparty typed by name (suggested as ``Name (#id)``) or ``#id``; ``data`` is
    its id. :meth:`resolve` looks the text up within the user's counterparty scope, except
    the record's own counterparty (``stored``), kept as it is even if the user no longer
    sees it (they may still edit their own record). The forms call it at different times
    (before the choices that depend on it, or in validation), so it is not automatic."""

    widget = TextInput()
    typed: str | None = None  # what was posted; None when nothing was (a GET)

    def __init__(self, *args: Any, max_length: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_length = max_length

    def process(self, formdata: Any, data: Any = unset_value, extra_filters: Any = None) -> None:
        self.typed = None
        super().process(formdata, data, extra_filters)

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = clean_text(valuelist[0]) if valuelist else ""
        self.typed = text[: self.max_length] if self.max_length else text
        self.data = None

    def resolve(self, stored: int | None) -> None:
        """Set ``data`` from the typed text; ``ValidationError`` says why it cannot be.
        Nothing posted keeps the stored id; an empty text is left to the validators."""
        if not self.typed:
            return
        ref = COUNTERPARTY_REF.search(self.typed)
        if stored is not None and ref is not None and int(ref.group(1)) == stored:
            self.data = stored
            return
        self.data = resolve_counterparty(self.typed)

    def _value(self) -> str:
        if self.typed is not None:
            return self.typed
        if not self.data:
            return ""
        name = db_session().scalar(select(Counterparty.name).where(Counterparty.id == self.data))
        return counterparty_ref(self.data, name or "")


# -- pages ----------------------------------------------------------------------------------


def on_counterparty_card(subject: str, subject_id: int, user: Any, permission: str) -> bool:
    """Whether the card hooks (tab, chronology) show ``user`` an area's rows on this
    record's card: a counterparty they reach, with the area's read ``permission``."""
    return (
        subject == SUBJECT
        and has_permission(permission, user)
        and reaches_counterparty(subject_id, user)
    )


def counterparty_tab(
    fragment: str, title: str, counterparty: Counterparty, **context: Any
) -> ResponseReturnValue:
    """A sales tab of the counterparty's card: the ``fragment`` template alone for the
    card's htmx load, else a page of its own around it (without JavaScript, a direct link)."""
    card_url = url_for("crm_base.counterparty", record_id=counterparty.id)
    context.update(counterparty=counterparty, card_url=card_url)
    if wants_fragment():
        return render_template(fragment, **context)
    breadcrumbs = [
        (_("Counterparties"), url_for("crm_base.counterparties")),
        (counterparty.name, card_url),
        (title, None),
    ]
    return render_template(
        "sales/counterparty_tab_page.html",
        tab_title=title,
        tab_template=fragment,
        breadcrumbs=breadcrumbs,
        **context,
    )


def posted_or_400() -> None:
    """A bare POST (a button) must carry a valid CSRF token; else 400."""
    if not posted_ok():
        abort(400)


def open_created(view: FormView, record_id: int) -> ResponseReturnValue:
    """After creating a record: its card, or the list when it is out of the user's scope
    (handed to another manager) — the card would be a 404."""
    if not view.reachable(record_id):
        flash(_("The record is no longer among those you can see."), "info")
        return redirect(url_for(view.index_endpoint), 303)
    return redirect(url_for(view.endpoint, record_id=record_id), 303)


# -- saving ---------------------------------------------------------------------------------


def stale(posted: Any, record: Any) -> bool:
    """Whether the version a form was loaded at is not the record's any more (or unreadable)."""
    try:
        return int(posted or "") != record.version
    except ValueError:
        return True


def committed(db: Session) -> bool:
    """Flush and commit; ``False`` (rolled back) when someone changed the record meanwhile
    (the flush's ``UPDATE … WHERE version = :loaded`` matched no row)."""
    try:
        db.flush()
        db.commit()
    except StaleDataError:
        db.rollback()
        return False
    return True


def repoint(
    session: Session,
    columns: Mapping[str, Any],
    subject: str,
    source_id: int,
    target_id: int,
    **values: Any,
) -> int:
    """A merge's ``merge_records``: rows whose ``columns[subject]`` names the merged-away
    counterparty or person name the one kept (one UPDATE, plus ``values``); 0 rows for a
    subject without a column."""
    column = columns.get(subject)
    if column is None:
        return 0
    result = session.execute(
        update(column.class_)
        .where(column == source_id)
        .values({column.key: target_id, **values})
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)
