"""crm_base: likely duplicates of a counterparty, and the merge tool.

Why it is built this way:

- **Signals, strongest first.** The same tax code (on the counterparty or on its
  requisites), the same normalised phone or e-mail (``crm_base_channel``'s kind/value
  index), the same name once legal forms, quotes and punctuation are gone ("ТОВ «Ромашка»"
  = "Ромашка, ТОВ"), or a very similar one (difflib ratio ≥ 0.85).
- **Indexed at a million rows.** Each signal is an index lookup; nothing reads the table
  into Python. Similar names come from a small candidate set: the names that *start* with
  the first word of the normalised name, written as people write names ("Ромашка…",
  "ТОВ «Ромашка…", "ФОП Ромашка…", in title or upper case), each an index range on
  ``crm_base_counterparty.name``. A typo in that first word is the price (a stored
  normalised-name column would make it one range; see the issue-5 report).
- **One transaction for a merge.** Everything that points at the duplicate moves to the
  record kept (crm_base's rows here, other addons' through the ``merge_records`` hook),
  empty fields of the kept record are filled from the duplicate, the duplicate is deleted
  and one audit entry says what happened; any error rolls all of it back.

Routes on crm_base's blueprint: ``GET /crm/counterparties/<id>/duplicates`` (a card tab,
or a page), ``GET /crm/counterparties/duplicates/check`` (the check a create form calls
while the user types) and ``GET|POST /crm/counterparties/<id>/merge/<other_id>``.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import Integer, String, TextClause, delete, exists, func, select, text, update
from sqlalchemy.orm import Session, aliased
from wtforms import HiddenField

from addons.crm_base.codes import normalize_email, normalize_phone
from addons.crm_base.models import (
    SUBJECT,
    Address,
    Attribute,
    AttributeValue,
    Channel,
    Counterparty,
    CounterpartyGroup,
    CounterpartyTag,
    Note,
    PersonLink,
    Requisites,
    Work,
)
from addons.crm_base.tabs import counterparty_or_404, render_tab, wants_fragment
from addons.crm_base.views import bp
from core import audit
from core.hooktypes import CardTab, TimelineEntry
from core.models import Attachment
from core.security import has_permission, require, scope_filter, user_names
from core.ui.formview import MAX_ID
from core.web import db_session, kernel

log = logging.getLogger(__name__)

READ = "crm_base.counterparty.read"
MERGE = "crm_base.counterparty.merge"
SIMILARITY = 0.85
NAME_PER_RANGE = 10  # rows read per way of writing a name (then scored in Python)
STEM_SLACK = 3  # letters left off the end of the name where the candidate ranges start
LATERAL_BATCH = 3000  # names × cases per PostgreSQL statement (× the prefixes: ranges)
MAX_CHECK_LENGTH = 300

# Legal forms, lower case, as whole words or phrases (after punctuation became spaces).
LEGAL_FORM_PHRASES = (
    "товариство з обмеженою відповідальністю",
    "товариство з додатковою відповідальністю",
    "приватне акціонерне товариство",
    "публічне акціонерне товариство",
    "акціонерне товариство",
    "приватне підприємство",
    "державне підприємство",
    "комунальне підприємство",
    "фізична особа підприємець",
    "limited liability company",
)
LEGAL_FORM_WORDS = frozenset(
    (
        "тов", "тзов", "тдв", "прат", "пат", "ат", "зат", "ват", "пп", "дп", "кп", "фоп",
        "спд", "llc", "ltd", "inc", "tov", "gmbh",
    )
)  # fmt: skip
# How stored names begin before the name proper: "ТОВ «Ромашка»", 'ФОП Іваненко'.
RAW_FORMS = (
    "ТОВ",
    "ТзОВ",
    "ТЗОВ",
    "ПрАТ",
    "ПРАТ",
    "ПАТ",
    "АТ",
    "ПП",
    "ДП",
    "ФОП",
    "LLC",
    "Товариство з обмеженою відповідальністю",
    "ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ",
    "Приватне підприємство",
)
RAW_QUOTES = ("«", '"', "“")  # no "'": the prefixes are SQL literals
RAW_PREFIXES = (
    "",
    *RAW_QUOTES,
    *(f"{form}{sep}" for form in RAW_FORMS for sep in (" ", *(f" {q}" for q in RAW_QUOTES))),
)
_NOT_WORD = re.compile(r"[\W_]+")
_SPACES = re.compile(r"\s+")

REASON_LABELS = {
    "tax_code": _l("Same tax code"),
    "phone": _l("Same phone"),
    "email": _l("Same e-mail"),
    "same_name": _l("Same name"),
    "similar_name": _l("Similar name"),
}
REASON_ORDER = tuple(REASON_LABELS)


# -- normalising ----------------------------------------------------------------------


def normalize_name(name: str | None) -> str:
    """A name as compared for duplicates: lower case, without legal forms (ТОВ, ПрАТ,
    ФОП, LLC…), quotes and punctuation, single spaces. ``"ТОВ «Ромашка-Плюс»"`` →
    ``"ромашка плюс"``."""
    text = unicodedata.normalize("NFKC", name or "").lower()
    text = f" {_SPACES.sub(' ', _NOT_WORD.sub(' ', text)).strip()} "
    for phrase in LEGAL_FORM_PHRASES:
        text = text.replace(f" {phrase} ", " ")
    return " ".join(w for w in text.split() if w not in LEGAL_FORM_WORDS)


def name_key(normalized: str) -> str:
    """The start every candidate's name proper shares: the first word (with the second
    when the first is shorter than three letters)."""
    words = normalized.split()
    if not words:
        return ""
    key = words[0]
    if len(key) < 3 and len(words) > 1:
        key = f"{key} {words[1]}"
    return key[:40]


def similarity(a: str, b: str) -> float:
    """difflib's ratio of two normalised names (cheap upper bounds first)."""
    if a == b:
        return 1.0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < SIMILARITY or matcher.quick_ratio() < SIMILARITY:
        return 0.0
    return matcher.ratio()


def clean_tax_code(value: str | None) -> str:
    return re.sub(r"\s", "", value or "")[:10]


def clean_channels(kind: str, values: Iterable[str]) -> list[str]:
    """The stored forms of ``values`` (invalid ones are no signal and are dropped)."""
    normalize = normalize_phone if kind == "phone" else normalize_email
    found = []
    for value in values:
        try:
            clean = normalize(value) if value and len(value) <= 254 else ""
        except ValueError:
            continue
        if clean and clean not in found:
            found.append(clean)
    return found


# -- the signals (each one indexed query) ---------------------------------------------


def tax_code_matches(session: Session, codes: Iterable[str]) -> dict[str, set[int]]:
    """``{tax code: counterparty ids}`` with that code on the record or on its requisites."""
    wanted = sorted({c for c in codes if c})
    found: dict[str, set[int]] = {}
    if not wanted:
        return found
    own = select(Counterparty.tax_code, Counterparty.id).where(Counterparty.tax_code.in_(wanted))
    via_requisites = select(Requisites.tax_code, Requisites.counterparty_id).where(
        Requisites.tax_code.in_(wanted), Requisites.counterparty_id.is_not(None)
    )
    for code, record_id in session.execute(own.union(via_requisites)):
        found.setdefault(code, set()).add(record_id)
    return found


def channel_matches(session: Session, kind: str, values: Iterable[str]) -> dict[str, set[int]]:
    """``{stored value: counterparty ids}`` having that phone or e-mail themselves."""
    wanted = sorted(set(values))
    found: dict[str, set[int]] = {}
    if not wanted:
        return found
    rows = session.execute(
        select(Channel.value, Channel.counterparty_id).where(
            Channel.kind == kind, Channel.value.in_(wanted), Channel.counterparty_id.is_not(None)
        )
    )
    for value, record_id in rows:
        found.setdefault(value, set()).add(record_id)
    return found


CASES = (str.title, str.upper, lambda text: text[:1].upper() + text[1:])


@cache
def _union_statement() -> TextClause:
    """SQLite: one ``SELECT … ORDER BY name LIMIT n`` per range, joined by ``UNION ALL``.
    The prefixes are SQL literals (constants without a ``'``) joined to two parameters per
    case, so a call binds six values."""
    table = Counterparty.__table__.name
    parts = []
    for case in range(len(CASES)):
        for number, prefix in enumerate(RAW_PREFIXES):
            low = f"'{prefix}' || :low_{case}" if prefix else f":low_{case}"
            high = f"'{prefix}' || :high_{case}" if prefix else f":high_{case}"
            parts.append(  # constants only: the table's name and the prefixes above
                f"SELECT id, name FROM (SELECT id, name FROM {table}"  # noqa: S608
                f" WHERE name >= ({low}) AND name < ({high})"
                f" ORDER BY name LIMIT {NAME_PER_RANGE}) AS r{case}_{number}"
            )
    return text("\nUNION ALL\n".join(parts)).columns(id=Integer, name=String)


@cache
def _lateral_statement() -> TextClause:
    """PostgreSQL: the ranges of many names as arrays (``n`` says whose), each read by the
    same small index scan (``LATERAL``): one round trip and a plan of a few nodes for a
    whole batch of names, where a union would start one plan node per range per name."""
    table = Counterparty.__table__.name
    prefixes = ", ".join(f"('{prefix}')" for prefix in RAW_PREFIXES)
    sql = (  # constants only: the table's name, the prefixes and the limit
        "SELECT b.n, c.id, c.name FROM unnest(CAST(:ns AS integer[]),"  # noqa: S608
        " CAST(:lows AS text[]), CAST(:highs AS text[])) AS b(n, low, high)"
        f" CROSS JOIN (VALUES {prefixes}) AS p(prefix) CROSS JOIN LATERAL"
        f" (SELECT id, name FROM {table}"
        " WHERE name >= p.prefix || b.low AND name < p.prefix || b.high"
        f" ORDER BY name LIMIT {NAME_PER_RANGE}) AS c"
    )
    return text(sql).columns(n=Integer, id=Integer, name=String)


def _bounds(name: str) -> list[tuple[str, str]]:
    """``(low, high)`` of the name proper in each case: from where the name sorts (less a
    few letters, so a typo near the end still falls inside) to the end of the names that
    share its first word. Empty when the name proper is too short to look for."""
    normalized = normalize_name(name)
    key = name_key(normalized)
    if len(key) < 2:
        return []
    stem = normalized[: max(len(key), len(normalized) - STEM_SLACK)]
    return [(case(stem), f"{case(key)}\U0010ffff") for case in CASES]


def name_candidates_many(session: Session, names: Sequence[str]) -> list[list[tuple[int, str]]]:
    """For each name, the counterparties whose stored name starts like its name proper,
    written as names are written (with or without a legal form and quotes, in title or
    upper case): each way of writing one index range on the name, at most
    ``NAME_PER_RANGE`` rows each.

    The SQL is plain text built once: it runs for every imported row, and SQLAlchemy would
    otherwise hash an expression of 180 ranges on each call to find its compiled form.
    PostgreSQL answers a whole batch of names in one statement; SQLite, fast per call,
    one statement per name."""
    found: list[dict[int, str]] = [{} for _name in names]
    bounds = [_bounds(name) for name in names]
    if session.get_bind().dialect.name == "postgresql":
        ranges = list(
            dict.fromkeys((n, low, high) for n, pairs in enumerate(bounds) for low, high in pairs)
        )
        for start in range(0, len(ranges), LATERAL_BATCH):
            chunk = ranges[start : start + LATERAL_BATCH]
            params = {k: [r[i] for r in chunk] for i, k in enumerate(("ns", "lows", "highs"))}
            for n, record_id, stored in session.execute(_lateral_statement(), params):
                found[n][record_id] = stored
        return [list(f.items()) for f in found]
    for n, pairs in enumerate(bounds):
        if pairs:
            params = {f"low_{c}": low for c, (low, _high) in enumerate(pairs)}
            params.update({f"high_{c}": high for c, (_low, high) in enumerate(pairs)})
            found[n].update(
                (i, stored) for i, stored in session.execute(_union_statement(), params)
            )
    return [list(f.items()) for f in found]


def name_matches_many(session: Session, names: Sequence[str]) -> list[list[tuple[int, str, float]]]:
    """For each name, ``(id, stored name, score)`` of the counterparties named the same
    (score 1.0) or very similarly (≥ 0.85) once normalised."""
    result = []
    for name, candidates in zip(names, name_candidates_many(session, names), strict=True):
        normalized = normalize_name(name)
        scored = (
            (i, stored, similarity(normalized, normalize_name(stored))) for i, stored in candidates
        )
        result.append([hit for hit in scored if normalized and hit[2] >= SIMILARITY])
    return result


def name_matches(session: Session, name: str) -> list[tuple[int, str, float]]:
    """:func:`name_matches_many` for one name."""
    return name_matches_many(session, [name])[0]


# -- find_duplicates ------------------------------------------------------------------


@dataclass
class Duplicate:
    """A likely duplicate: the record, why (``reasons``, strongest first) and the name's
    similarity (1.0 for the same normalised name)."""

    id: int
    name: str = ""
    manager_id: int | None = None
    tax_code: str | None = None
    reasons: list[str] = field(default_factory=list)
    score: float = 0.0

    @property
    def rank(self) -> tuple[int, float, int]:
        strong = sum(r in ("tax_code", "phone", "email") for r in self.reasons)
        return (-strong, -self.score, self.id)

    @property
    def reason_labels(self) -> list[str]:
        return [str(REASON_LABELS[r]) for r in self.reasons]


def find_duplicates(
    session: Session,
    *,
    name: str | None = None,
    tax_code: str | None = None,
    phones: Sequence[str] = (),
    emails: Sequence[str] = (),
    exclude_id: int | None = None,
    limit: int = 10,
) -> list[Duplicate]:
    """Likely duplicates of a counterparty described by these values (the stored ones of
    an existing record, or what a user is typing / importing), strongest first.

    Every record is considered, whoever manages it: callers showing names to a user keep
    only those in the user's scope (:func:`split_by_scope`)."""
    found: dict[int, Duplicate] = {}

    def hit(record_id: int, reason: str, score: float = 0.0) -> None:
        if record_id == exclude_id:
            return
        dup = found.setdefault(record_id, Duplicate(record_id))
        if reason not in dup.reasons:
            dup.reasons.append(reason)
        dup.score = max(dup.score, score)

    code = clean_tax_code(tax_code)
    for record_id in tax_code_matches(session, [code]).get(code, ()):
        hit(record_id, "tax_code")
    for kind, values in (("phone", phones), ("email", emails)):
        for ids in channel_matches(session, kind, clean_channels(kind, values)).values():
            for record_id in ids:
                hit(record_id, kind)
    if name:
        for record_id, _stored, score in name_matches(session, name[:MAX_CHECK_LENGTH]):
            hit(record_id, "same_name" if score == 1.0 else "similar_name", score)
    if not found:
        return []
    rows = session.execute(
        select(
            Counterparty.id, Counterparty.name, Counterparty.manager_id, Counterparty.tax_code
        ).where(Counterparty.id.in_(list(found)))
    )
    for row in rows:
        dup = found[row.id]
        dup.name, dup.manager_id, dup.tax_code = row.name, row.manager_id, row.tax_code
        dup.reasons.sort(key=REASON_ORDER.index)
    existing = [d for d in found.values() if d.name]
    return sorted(existing, key=lambda d: d.rank)[:limit]


def reachable_ids(session: Session, ids: Iterable[int], user: Any) -> set[int]:
    """Which of ``ids`` ``user`` may reach (record scope), in one query."""
    wanted = list(set(ids))
    if not wanted:
        return set()
    stmt = select(Counterparty.id).where(Counterparty.id.in_(wanted))
    return set(session.scalars(scope_filter(stmt, SUBJECT, Counterparty.manager_id, user)))


def split_by_scope(
    session: Session, duplicates: list[Duplicate], user: Any
) -> tuple[list[Duplicate], int]:
    """The duplicates ``user`` may see, and how many others exist (their names stay
    hidden: a colleague's client is only a number)."""
    reach = reachable_ids(session, (d.id for d in duplicates), user)
    visible = [d for d in duplicates if d.id in reach]
    return visible, len(duplicates) - len(visible)


def record_channels(session: Session, record_id: int) -> dict[str, list[str]]:
    """A counterparty's own phones and e-mails (stored forms)."""
    found: dict[str, list[str]] = {"phone": [], "email": []}
    rows = session.execute(
        select(Channel.kind, Channel.value).where(
            Channel.counterparty_id == record_id, Channel.kind.in_(("phone", "email"))
        )
    )
    for kind, value in rows:
        found[kind].append(value)
    return found


def duplicates_of(session: Session, record: Counterparty, limit: int = 10) -> list[Duplicate]:
    """Likely duplicates of a stored counterparty."""
    channels = record_channels(session, record.id)
    return find_duplicates(
        session,
        name=record.name,
        tax_code=record.tax_code,
        phones=channels["phone"],
        emails=channels["email"],
        exclude_id=record.id,
        limit=limit,
    )


# -- merging --------------------------------------------------------------------------


class MergeError(Exception):
    """A merge that cannot happen (the message is for the user)."""


def _move_unique(
    session: Session, model: Any, owner: Any, same: Sequence[str], source: int, target: int
) -> int:
    """Move ``model`` rows from ``source`` to ``target`` (``owner`` is their counterparty
    column); rows whose ``same`` columns the target already has are dropped instead."""
    other = aliased(model)
    duplicate = exists().where(
        getattr(other, owner.key) == target,
        *(getattr(other, col) == getattr(model, col) for col in same),
    )
    session.execute(
        delete(model).where(owner == source, duplicate).execution_options(synchronize_session=False)
    )
    return _move(session, model, owner, source, target)


def _move(session: Session, model: Any, owner: Any, source: int, target: int) -> int:
    result = session.execute(
        update(model)
        .where(owner == source)
        .values({owner.key: target})
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def _keep_one_primary(session: Session, model: Any, owner: Any, flag: Any, target: int) -> None:
    """After a move the target may have two "primary" rows of a kind: keep the oldest."""
    other = aliased(model)
    same_kind = [other.kind == model.kind] if hasattr(model, "kind") else []
    older = exists().where(
        getattr(other, owner.key) == target,
        getattr(other, flag.key).is_(True),
        other.id < model.id,
        *same_kind,
    )
    session.execute(
        update(model)
        .where(owner == target, flag.is_(True), older)
        .values({flag.key: False})
        .execution_options(synchronize_session=False)
    )


def _move_attribute_values(session: Session, source: int, target: int) -> int:
    """Counterparty attribute values (``record_id`` is shared with persons' attributes);
    where both have a value, the target's is kept."""
    mine = select(Attribute.id).where(Attribute.subject == "counterparty")
    other = aliased(AttributeValue)
    both = exists().where(
        other.record_id == target, other.attribute_id == AttributeValue.attribute_id
    )
    session.execute(
        delete(AttributeValue)
        .where(AttributeValue.record_id == source, AttributeValue.attribute_id.in_(mine), both)
        .execution_options(synchronize_session=False)
    )
    result = session.execute(
        update(AttributeValue)
        .where(AttributeValue.record_id == source, AttributeValue.attribute_id.in_(mine))
        .values(record_id=target)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


# Fields of the kept record filled from the duplicate when empty (notes are joined).
FILLED = ("tax_code", "website", "manager_id", "external_id", "notes")


def _fill_empty(source: Counterparty, target: Counterparty, session: Session) -> list[str]:
    filled = []
    for name in FILLED:
        mine, theirs = getattr(target, name), getattr(source, name)
        if theirs in (None, ""):
            continue
        if name == "notes" and mine and theirs != mine:
            target.notes = f"{mine}\n\n{theirs}"
            filled.append(name)
        elif mine in (None, ""):
            if name == "external_id":  # unique: free it on the duplicate first
                source.external_id = None
                session.flush()
            setattr(target, name, theirs)
            filled.append(name)
    return filled


def merge_counterparties(session: Session, source_id: int, target_id: int) -> dict[str, Any]:
    """Merge counterparty ``source_id`` into ``target_id`` in the caller's transaction
    (the caller commits, or rolls back on any exception). Returns what moved."""
    if source_id == target_id:
        raise MergeError(_("A counterparty cannot be merged into itself."))
    source = session.get(Counterparty, source_id)
    target = session.get(Counterparty, target_id)
    if source is None or target is None:
        raise MergeError(_("One of the two counterparties no longer exists."))
    s, t = source_id, target_id
    moved: dict[str, Any] = {
        "channels": _move_unique(
            session, Channel, Channel.counterparty_id, ("kind", "value"), s, t
        ),
        "addresses": _move(session, Address, Address.counterparty_id, s, t),
        "persons": _move_unique(
            session, PersonLink, PersonLink.counterparty_id, ("person_id",), s, t
        ),
        "groups": _move_unique(
            session, CounterpartyGroup, CounterpartyGroup.counterparty_id, ("group_id",), s, t
        ),
        "tags": _move_unique(
            session, CounterpartyTag, CounterpartyTag.counterparty_id, ("tag_id",), s, t
        ),
        "attributes": _move_attribute_values(session, s, t),
        "requisites": _move(session, Requisites, Requisites.counterparty_id, s, t),
        "works": _move_unique(session, Work, Work.counterparty_id, ("direction_id",), s, t),
        "notes": _move(session, Note, Note.counterparty_id, s, t),
    }
    _keep_one_primary(session, Channel, Channel.counterparty_id, Channel.is_primary, t)
    _keep_one_primary(session, Requisites, Requisites.counterparty_id, Requisites.is_default, t)
    moved["attachments"] = int(
        session.execute(
            update(Attachment)
            .where(Attachment.subject == SUBJECT, Attachment.subject_id == str(s))
            .values(subject_id=str(t))
            .execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )
    moved["filled"] = _fill_empty(source, target, session)
    session.flush()
    others = kernel().hooks.merge_records(SUBJECT, s, t, session)
    moved.update({f"addon:{addon}": count for addon, count in others.items() if count})
    source_name = source.name
    session.delete(source)
    session.flush()
    audit.record(
        session,
        "merge",
        Counterparty.__tablename__,
        str(t),
        source=str(s),
        source_name=source_name,
        moved=json.dumps(moved, ensure_ascii=False, sort_keys=True),
    )
    return moved


def merge_preview(session: Session, source_id: int) -> list[tuple[str, int]]:
    """(label, count) of what the merge would move from the duplicate (crm_base's rows)."""
    mine = select(Attribute.id).where(Attribute.subject == "counterparty")

    def count(model: Any, *where: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    counts = [
        (_("Phones, e-mails and messengers"), count(Channel, Channel.counterparty_id == source_id)),
        (_("Addresses"), count(Address, Address.counterparty_id == source_id)),
        (_("Contact persons"), count(PersonLink, PersonLink.counterparty_id == source_id)),
        (_("Groups"), count(CounterpartyGroup, CounterpartyGroup.counterparty_id == source_id)),
        (_("Tags"), count(CounterpartyTag, CounterpartyTag.counterparty_id == source_id)),
        (
            _("Additional attributes"),
            count(
                AttributeValue,
                AttributeValue.record_id == source_id,
                AttributeValue.attribute_id.in_(mine),
            ),
        ),
        (_("Requisites"), count(Requisites, Requisites.counterparty_id == source_id)),
        (_("Directions of work"), count(Work, Work.counterparty_id == source_id)),
        (_("Notes"), count(Note, Note.counterparty_id == source_id)),
        (
            _("Files"),
            count(
                Attachment, Attachment.subject == SUBJECT, Attachment.subject_id == str(source_id)
            ),
        ),
    ]
    return [(label, n) for label, n in counts if n]


# -- pages ----------------------------------------------------------------------------


def _arg(name: str) -> str:
    return " ".join(request.args.get(name, "").split())[:MAX_CHECK_LENGTH]


@bp.get("/counterparties/<int:record_id>/duplicates")
@require(READ)
def duplicates(record_id: int) -> ResponseReturnValue:
    """Likely duplicates of a counterparty the user reaches (a card tab, or a page)."""
    record = counterparty_or_404(record_id)
    db = db_session()
    visible, hidden = split_by_scope(db, duplicates_of(db, record), current_user)
    return render_tab(
        "duplicates",
        record,
        _("Possible duplicates"),
        duplicates=visible,
        hidden=hidden,
        can_merge=has_permission(MERGE),
    )


@bp.get("/counterparties/duplicates/check")
@require(READ)
def duplicates_check() -> ResponseReturnValue:
    """The "likely duplicates" check a create form calls while the user types
    (``?name=&tax_code=&phone=&email=``): a fragment listing them, empty if none."""
    db = db_session()
    found = find_duplicates(
        db,
        name=_arg("name") or None,
        tax_code=_arg("tax_code") or None,
        phones=[v for v in request.args.getlist("phone")[:5] if v],
        emails=[v for v in request.args.getlist("email")[:5] if v],
    )
    visible, hidden = split_by_scope(db, found, current_user)
    html = render_template("crm_base/duplicates_check.html", duplicates=visible, hidden=hidden)
    if wants_fragment():
        return html
    return render_template("crm_base/duplicates_check_page.html", body=html)


class MergeForm(FlaskForm):
    """Both versions as the user saw them: a record changed meanwhile is shown again."""

    source_version = HiddenField()
    target_version = HiddenField()


def _pair(record_id: int, other_id: int) -> tuple[Counterparty, Counterparty]:
    if record_id == other_id or not 0 < other_id <= MAX_ID:
        abort(404)
    return counterparty_or_404(record_id), counterparty_or_404(other_id)


FIELDS = (
    ("name", _l("Name")),
    ("kind", _l("Kind")),
    ("relation", _l("Client or prospect")),
    ("status", _l("Status")),
    ("tax_code", _l("Tax code")),
    ("website", _l("Web site")),
    ("external_id", _l("External id")),
    ("manager_id", _l("Manager")),
    ("notes", _l("Notes")),
    ("created_at", _l("Created")),
)


def _comparison(source: Counterparty, target: Counterparty) -> list[dict[str, Any]]:
    """Rows of the side-by-side table: each field of both and what the merge keeps."""
    names = user_names([source.manager_id, target.manager_id])
    rows = []
    for key, label in FIELDS:
        mine, theirs = getattr(target, key), getattr(source, key)
        if key == "manager_id":
            mine, theirs = names.get(mine or 0, ""), names.get(theirs or 0, "")
        filled = key in FILLED and mine in (None, "") and theirs not in (None, "")
        joined = key == "notes" and mine and theirs and mine != theirs
        rows.append({"label": label, "target": mine, "source": theirs, "filled": filled or joined})
    return rows


def _merge_posted(
    db: Session, form: MergeForm, source: Counterparty, target: Counterparty
) -> ResponseReturnValue:
    """Merge unless either record changed since the page was shown; then the card, else
    the merge page again with a message (nothing changed)."""
    again = url_for("crm_base.merge", record_id=target.id, other_id=source.id)
    seen = (form.source_version.data, form.target_version.data)
    if seen != (str(source.version), str(target.version)):
        flash(_("One of the counterparties was changed meanwhile; check again."), "warning")
        return redirect(again, 303)
    try:
        merge_counterparties(db, source.id, target.id)
        db.commit()
    except MergeError as exc:
        db.rollback()
        flash(str(exc), "danger")
        return redirect(again, 303)
    except Exception:
        db.rollback()
        log.exception("merging counterparty %s into %s failed", source.id, target.id)
        flash(_("The merge failed; nothing was changed."), "danger")
        return redirect(again, 303)
    flash(_("The counterparties were merged."), "success")
    return redirect(url_for("crm_base.counterparty", record_id=target.id), 303)


@bp.route("/counterparties/<int:record_id>/merge/<int:other_id>", methods=["GET", "POST"])
@require(MERGE)
def merge(record_id: int, other_id: int) -> ResponseReturnValue:
    """Merge counterparty ``other_id`` (the duplicate) into ``record_id`` (kept): GET asks
    with both side by side, POST merges (both must be in the user's scope)."""
    target, source = _pair(record_id, other_id)
    db = db_session()
    form = MergeForm()
    if form.validate_on_submit():
        return _merge_posted(db, form, source, target)
    if request.method == "POST":
        abort(400)
    form.source_version.data = str(source.version)
    form.target_version.data = str(target.version)
    return render_template(
        "crm_base/merge.html",
        form=form,
        target=target,
        source=source,
        rows=_comparison(source, target),
        moving=merge_preview(db, source.id),
        breadcrumbs=[
            (_("Counterparties"), url_for("crm_base.counterparties")),
            (target.name, url_for("crm_base.counterparty", record_id=target.id)),
            (_("Merge"), None),
        ],
    )


# -- hooks ----------------------------------------------------------------------------


def timeline_entries(subject: str, subject_id: int, user: Any) -> list[TimelineEntry]:
    """Merges appear in the card's history (audit), not as chronology entries."""
    return []


def card_tabs(subject: str, subject_id: int, user: Any) -> list[CardTab]:
    """The "Possible duplicates" tab (loaded when opened; no count, so the card stays
    as fast as before)."""
    if subject != SUBJECT or not has_permission(READ, user):
        return []
    url = url_for("crm_base.duplicates", record_id=int(subject_id))
    return [CardTab("crm_base.duplicates", _("Possible duplicates"), url, order=90)]
