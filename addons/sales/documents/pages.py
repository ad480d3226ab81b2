"""The pages every sales document has, from its :class:`DocumentKind`: the list, the card
(a form view) and the "new" page with what follows a save."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from flask import flash, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.routing import BuildError

from addons.crm_base.models import Counterparty
from addons.sales.documents import DocumentKind
from addons.sales.documents.amounts import amount_cell, money_text
from addons.sales.shared import card_view, new_page
from core.ui import ChoiceFilter, Column, ListView, RelatedFilter
from core.ui.formview import FormView
from core.web import db_session


def number_column(kind: DocumentKind) -> Column:
    return Column(
        "number",
        _l("Number"),
        kind.model.number,
        sortable=True,
        link=lambda row: kind.card_url(row.id),
    )


def counterparty_column() -> Column:
    return Column("counterparty", _l("Counterparty"), Counterparty.name, nullable=True)


def amount_column(name: str, label: Any, column: Any) -> Column:
    return Column(name, label, column, format=amount_cell, css="text-end")


def currency_column(kind: DocumentKind) -> Column:
    return Column("currency", _l("Currency"), kind.model.currency)


def status_column(kind: DocumentKind) -> Column:
    return Column(
        "status",
        _l("Status"),
        kind.model.status,
        format=kind.status_label,
        export_format=kind.status_label,
    )


def document_list(kind: DocumentKind, columns: Sequence[Column], empty_message: Any) -> ListView:
    """The list of a kind: ``columns``, searched by number and counterparty name, filtered
    by status and counterparty, the newest number first, within the record scope."""
    model = kind.model
    return ListView(
        name=f"sales_{kind.key}s",
        endpoint=f"sales.{kind.key}s",
        model=model,
        title=kind.plural,
        columns=list(columns),
        joins=[(Counterparty, Counterparty.id == model.counterparty_id)],
        search=[model.number, Counterparty.name],
        filters=[
            ChoiceFilter("status", _l("Status"), list(kind.statuses.items()), model.status),
            RelatedFilter("counterparty", _l("Counterparty"), model.counterparty_id),
        ],
        default_sort="-number",
        subject=kind.subject,
        owner=kind.owner,
        empty_message=empty_message,
        template="sales/document_list.html",
    )


def render_list(kind: DocumentKind, view: ListView, can_create: bool) -> ResponseReturnValue:
    """The list page with "New …" for those who may create."""
    return view.render(
        can_create=can_create, new_endpoint=f"sales.{kind.key}_new", new_label=kind.new_label
    )


def document_form_view(
    view_class: type[FormView],
    kind: DocumentKind,
    form: type[FlaskForm],
    fields: Sequence[str],
    *,
    update: str,
    delete: str,
    prepare: Callable[[Any, Any], None],
    context: Callable[[Any], Mapping[str, Any]],
) -> FormView:
    """The card of a kind (:func:`addons.sales.shared.card_view`) on its template
    ``sales/<key>.html``, titled by its number."""
    return card_view(
        view_class,
        kind.key,
        kind.model,
        kind.subject,
        form,
        template=f"sales/{kind.key}.html",
        update=update,
        delete=delete,
        title=lambda record: kind.title(record.number),
        prepare=prepare,
        context=context,
        fields=fields,
    )


def safe_url(endpoint: str, **values: Any) -> str:
    """A link to another area's page, or ``""`` when that area has no such page (yet)."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return ""


def card_context(kind: DocumentKind, record: Any) -> dict[str, Any]:
    """What every document's card shows besides the form: the breadcrumbs, the status,
    the counterparty with its link, the PDF, and amounts in the record's currency."""
    name = db_session().scalar(
        select(Counterparty.name).where(Counterparty.id == record.counterparty_id)
    )
    return {
        "breadcrumbs": [(kind.plural, kind.list_url()), (record.number, None)],
        "status_label": kind.statuses.get(record.status, record.status),
        "counterparty_name": name or "",
        "counterparty_url": safe_url("crm_base.counterparty", record_id=record.counterparty_id),
        "pdf_url": kind.pdf_url(record.id),
        "money": lambda value: money_text(Decimal(value), record.currency),
    }


def render_new(
    kind: DocumentKind, form: FlaskForm, action: str, status: int = 200
) -> ResponseReturnValue:
    """The "new" page of a kind, posting to ``action`` (400: the form's messages)."""
    parent = (kind.plural, kind.list_url())
    return new_page(f"sales/{kind.key}_new.html", form, action, parent, kind.new_label, status)


def created(view: FormView, record: Any, message: str) -> ResponseReturnValue:
    """After creating: say so, and show the card (or the list, when the record went out
    of the user's sight: :func:`addons.sales.shared.open_created`)."""
    flash(message, "success")
    return view.open_saved(record.id)
