"""What the sales areas have in common, written once: ids read from selects and query
strings, money as typed (currencies, amounts), select choices that keep the stored value
(users, a counterparty's persons), the typed-counterparty field, a record's card and a
counterparty card's tab, integer settings, saving under optimistic locking, and
re-pointing rows after a merge.

``views.py`` keeps the blueprint and the helpers every area was given from the start; this
module holds what the areas turned out to repeat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from wtforms import DecimalField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.fields.core import Field
from wtforms.utils import unset_value
from wtforms.validators import StopValidation, ValidationError
from wtforms.widgets import TextInput

from addons.crm_base.contacts import clean_text
from addons.crm_base.models import PERSON_SUBJECT, SUBJECT, Counterparty, Person, PersonLink
from addons.crm_base.notes import posted_ok, reaches_counterparty, wants_fragment
from addons.crm_base.persons import COUNTERPARTY_REF, counterparty_ref, resolve_counterparty
from addons.sales.views import scoped
from core import security
from core.models import Setting
from core.money import to_kopecks
from core.security import has_permission, scope_filter
from core.ui.formview import MAX_ID, FormView
from core.web import db_session

COUNTERPARTY_READ = "crm_base.counterparty.read"
PERSON_READ = "crm_base.person.read"
BLANK = SelectChoice("", "—")
CHOICES_LIMIT = 200  # options of a select that follows the counterparty


# -- ids ------------------------------------------------------------------------------------

#: How an empty choice may come back: "" (the blank option), or "None" (WTForms writes a
#: ``None`` value so).
NO_ID = (None, "", "None")


def optional_id(value: Any) -> int | None:
    """A select's ``coerce``: the empty choice is "none"; anything else that is not a number
    raises ``ValueError``, which the select shows as "Invalid Choice: could not coerce."
    (a number that is not among the choices is "Not a valid choice.")."""
    return None if value in NO_ID else int(value)


def id_or_none(value: Any) -> int | None:
    """``value`` as a record id, or ``None`` when it is not one (empty, not all digits, out
    of the ids' range): for ids from a URL or a key, which never fail and never reach the
    database absurd."""
    text = "" if value is None else str(value)
    if not text.isdigit():
        return None
    try:
        number = int(text)
    except ValueError:  # digits int() does not read ("²"), or thousands of them
        return None
    return number if 0 < number <= MAX_ID else None


def requested_id(name: str) -> int | None:
    """An id from the query string (``?counterparty=12``), ``None`` if absent or absurd."""
    return id_or_none(request.args.get(name, "").strip()[:12])


def row_or_404(model: type[Any], record_id: int) -> Any:
    """A row of a table without record scope (pipelines, sources, costs…), or 404 — also
    for an id no row can have."""
    row = db_session().get(model, record_id) if 0 < record_id <= MAX_ID else None
    if row is None:
        abort(404)
    return row


# -- money ----------------------------------------------------------------------------------

#: The currencies of deals, pipelines and documents; the first is the default.
CURRENCIES = ("UAH", "USD", "EUR")
#: The largest amount a ``Numeric(16, 2)`` column holds (PostgreSQL refuses more).
MAX_AMOUNT = Decimal("99999999999999.99")


def bare_number(text: str) -> str:
    """What was typed, without the spaces of ``1 200,50`` (any kind: a copied ``1 200``
    has a no-break one) and with a decimal point."""
    return "".join(text.split()).replace(",", ".")


def typed_decimal(text: str) -> Decimal | None:
    """A number as people type it (:func:`bare_number`), ``None`` unless it is a finite
    number (``Decimal("NaN")`` would make any comparison raise)."""
    try:
        value = Decimal(bare_number(text))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def currency_field() -> SelectField:
    """The currency of a deal, a pipeline or a document."""
    return SelectField(
        _l("Currency"), choices=[SelectChoice(c, c) for c in CURRENCIES], default=CURRENCIES[0]
    )


class AmountField(DecimalField):
    """A sum of money as people type it (``1 234,50`` or ``1234.50``): ``None`` when empty
    (the validators decide); ``message`` when it is not a finite number, and then no other
    check runs; rounded half up to kopecks once valid."""

    def __init__(self, *args: Any, message: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.message = message or _l("Not a valid amount.")

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = str(valuelist[0]) if valuelist else ""
        self.data = typed_decimal(text) if text.strip() else None
        if text.strip() and self.data is None:
            raise ValueError(str(self.message))

    def pre_validate(self, form: Any) -> None:
        if self.process_errors:
            raise StopValidation()

    def post_validate(self, form: Any, validation_stopped: bool) -> None:
        if not self.errors and self.data is not None:
            self.data = to_kopecks(self.data)


# -- choices --------------------------------------------------------------------------------


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
    users = [SelectChoice(str(uid), name) for uid, name in security.user_choices([keep])]
    return [BLANK, *users] if blank else users


def user_label(user: Any) -> Any:
    """SQL for a user's name, else the login (as ``user_names`` shows it): list columns."""
    return func.coalesce(func.nullif(user.name, ""), user.login)


# -- the typed counterparty ---------------------------------------------------------------


class CounterpartyField(Field):
    """A counterparty typed by name (suggested as ``Name (#id)``) or ``#id``; ``data`` is
    its id, within the user's counterparty scope, and it is required.

    ``stored`` (set when the form is prepared for a record) is the record's own
    counterparty: kept as it is without a scope check, so a manager can still save their
    own record about a counterparty handed to a colleague since. The choices that depend on
    the counterparty are built before validation from :meth:`chosen`; validation looks the
    text up (:meth:`pre_validate`) and says why it cannot be used."""

    widget = TextInput()
    typed: str | None = None  # what was posted; None when nothing was (a GET)
    stored: int | None = None

    def __init__(self, *args: Any, max_length: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_length = max_length
        self.flags.required = True

    def process(self, formdata: Any, data: Any = unset_value, extra_filters: Any = None) -> None:
        self.typed = None
        super().process(formdata, data, extra_filters)

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = clean_text(valuelist[0]) if valuelist else ""
        self.typed = text[: self.max_length] if self.max_length else text
        self.data = None

    def _kept(self) -> int | None:
        """``stored`` when the text names it (``… (#id)``)."""
        ref = COUNTERPARTY_REF.search(self.typed or "")
        if ref is not None and self.stored is not None and int(ref.group(1)) == self.stored:
            return self.stored
        return None

    def _looked_up(self) -> int:
        """The counterparty the (non-empty) text means; ``ValidationError`` says why none."""
        kept = self._kept()
        return kept if kept is not None else resolve_counterparty(self.typed or "")

    def chosen(self) -> int | None:
        """The counterparty meant so far, or ``None`` (never raises): for the choices that
        depend on it (contact persons, opportunities), built before validation."""
        if self.typed is None:
            return self.data
        if not self.typed:
            return None
        try:
            return self._looked_up()
        except ValidationError:
            return None

    def pre_validate(self, form: Any) -> None:
        """Set ``data`` from the typed text; nothing posted keeps the id given."""
        if self.typed is None:
            return
        if not self.typed:
            raise StopValidation(_("Choose a counterparty."))
        self.data = self._looked_up()

    def _value(self) -> str:
        if self.typed is not None:
            return self.typed
        if not self.data:
            return ""
        name = db_session().scalar(select(Counterparty.name).where(Counterparty.id == self.data))
        return counterparty_ref(self.data, name or "")


# -- pages ----------------------------------------------------------------------------------


def of_counterparty(
    stmt: Any, model: Any, subject: str, counterparty_id: int, user: Any = None
) -> Any:
    """``stmt`` limited to the counterparty's ``model`` rows that ``user`` reaches (the
    record scope of ``subject`` through ``model.responsible_id``)."""
    return scoped(stmt.where(model.counterparty_id == counterparty_id), model, subject, user)


def on_reached_card(subject: str, subject_id: int, user: Any) -> bool:
    """Whether this record's card is a counterparty's that ``user`` reaches (crm_base asks
    the database once per request, however many areas' card hooks ask)."""
    return subject == SUBJECT and reaches_counterparty(subject_id, user)


def on_counterparty_card(subject: str, subject_id: int, user: Any, permission: str) -> bool:
    """Whether the card hooks (tab, chronology) show ``user`` an area's rows on this
    record's card: a counterparty they reach, with the area's read ``permission``."""
    return (
        subject == SUBJECT
        and has_permission(permission, user)
        and on_reached_card(subject, subject_id, user)
    )


def counterparty_tab(
    fragment: str, title: str, counterparty: Counterparty, status: int = 200, **context: Any
) -> ResponseReturnValue:
    """A sales tab of the counterparty's card: the ``fragment`` template alone for the
    card's htmx load, else a page of its own around it (without JavaScript, a direct link).
    A refused form (``status`` 400) is shown on the page, whatever asked: a fragment would
    not replace the card's tab."""
    card_url = url_for("crm_base.counterparty", record_id=counterparty.id)
    context.update(counterparty=counterparty, card_url=card_url)
    if wants_fragment() and status == 200:
        return render_template(fragment, **context)
    breadcrumbs = [
        (_("Counterparties"), url_for("crm_base.counterparties")),
        (counterparty.name, card_url),
        (title, None),
    ]
    body = render_template(
        "sales/counterparty_tab_page.html",
        tab_title=title,
        tab_template=fragment,
        breadcrumbs=breadcrumbs,
        **context,
    )
    return body, status


def card_view(
    view_class: type[FormView],
    key: str,
    model: Any,
    subject: str,
    form: type[FlaskForm],
    *,
    template: str,
    update: str,
    delete: str,
    title: Callable[[Any], str],
    prepare: Callable[[Any, Any], None],
    context: Callable[[Any], Mapping[str, Any]],
    fields: Sequence[str] = (),
    list_endpoint: str = "",
) -> FormView:
    """A record's card (``view_class``, a :class:`FormView`) on the endpoints every sales
    area names alike: ``sales.<key>`` the card, ``sales.<key>_edit``, ``sales.<key>_delete``
    and ``sales.<key>s`` the list (unless ``list_endpoint`` says otherwise); in the record
    scope of ``subject`` through ``model.responsible_id``."""
    return view_class(
        model=model,
        form=form,
        fields=fields,
        subject=subject,
        owner=model.responsible_id,
        template=template,
        endpoint=f"sales.{key}",
        save_endpoint=f"sales.{key}_edit",
        delete_endpoint=f"sales.{key}_delete",
        index_endpoint=list_endpoint or f"sales.{key}s",
        update_permission=update,
        delete_permission=delete,
        title=title,
        prepare=prepare,
        context=context,
    )


def new_page(
    template: str,
    form: FlaskForm,
    save_url: str,
    parent: tuple[Any, str],
    title: Any,
    status: int = 200,
) -> ResponseReturnValue:
    """The page of a new record: ``form`` posting to ``save_url``, under the breadcrumbs
    ``parent`` (label, url) › ``title``; ``status`` 400 says the form has messages."""
    body = render_template(
        template,
        form=form,
        invalid=status == 400,
        can_update=True,
        save_url=save_url,
        breadcrumbs=[parent, (title, None)],
    )
    return body, status


def posted_or_400() -> None:
    """A bare POST (a button) must carry a valid CSRF token; else 400."""
    if not posted_ok():
        abort(400)


# -- settings -------------------------------------------------------------------------------


def int_setting(session: Session, name: str, default: int, lo: int, hi: int) -> int:
    """The integer setting ``name`` (stored as text), kept within ``lo`` … ``hi``;
    ``default`` when it is unset, empty or not a number (a setting never stops a job)."""
    raw = session.scalar(select(Setting.value).where(Setting.name == name))
    try:
        value = int(str(raw).strip()) if raw not in (None, "") else default
    except ValueError:
        return default
    return min(max(value, lo), hi)


# -- saving ---------------------------------------------------------------------------------


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
