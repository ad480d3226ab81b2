"""vCard 4.0 (RFC 6350) of contact persons: one card, or many streamed in batches.

Text values are escaped (backslash, comma, semicolon, new line) and lines folded at 75
octets without splitting a UTF-8 character, with CRLF line ends, as the RFC asks; phone
numbers are ``tel:`` URIs of their E.164 form. A list is read in batches of
:data:`BATCH` persons, three queries per batch (persons, channels, counterparties), so a
vCard of a whole selection costs the same per person whatever its size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from addons.crm_base.models import Channel, Counterparty, Person, PersonLink

BATCH = 500
LINE_OCTETS = 75
CRLF = "\r\n"
MIME_TYPE = "text/vcard; charset=utf-8"


def escape(text: str) -> str:
    """A text value with ``\\``, ``,``, ``;`` and new lines escaped (RFC 6350, 3.4)."""
    return (
        (text or "")
        .replace("\\", "\\\\")
        .replace(",", "\\,")
        .replace(";", "\\;")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold(line: str) -> str:
    """A content line folded at 75 octets: CRLF and one space before each continuation,
    never inside a multi-byte UTF-8 character (RFC 6350, 3.2)."""
    parts: list[str] = []
    current, size, limit = [], 0, LINE_OCTETS
    for char in line:
        octets = len(char.encode("utf-8"))
        if size + octets > limit:
            parts.append("".join(current))
            current, size, limit = [], 0, LINE_OCTETS - 1  # the leading space counts
        current.append(char)
        size += octets
    parts.append("".join(current))
    return (CRLF + " ").join(parts)


@dataclass
class Contact:
    """What a vCard says about one person."""

    uid: str
    full_name: str
    last_name: str = ""
    first_name: str = ""
    middle_name: str = ""
    position: str = ""
    birthday: date | None = None
    phones: list[tuple[str, bool]] = field(default_factory=list)  # (E.164, main)
    emails: list[tuple[str, bool]] = field(default_factory=list)
    organizations: list[str] = field(default_factory=list)


def render(contact: Contact) -> str:
    """One ``BEGIN:VCARD`` … ``END:VCARD`` block, CRLF line ends included."""
    lines = [
        "BEGIN:VCARD",
        "VERSION:4.0",
        f"UID:{contact.uid}",
        f"FN:{escape(contact.full_name)}",
        "N:"
        + ";".join(
            escape(part)
            for part in (contact.last_name, contact.first_name, contact.middle_name, "", "")
        ),
    ]
    lines += [f"ORG:{escape(name)}" for name in contact.organizations]
    if contact.position:
        lines.append(f"TITLE:{escape(contact.position)}")
    for number, main in contact.phones:
        lines.append(f"TEL;VALUE=uri{';PREF=1' if main else ''}:tel:{number}")
    for address, main in contact.emails:
        lines.append(f"EMAIL{';PREF=1' if main else ''}:{escape(address)}")
    if contact.birthday is not None:
        lines.append(f"BDAY:{contact.birthday:%Y%m%d}")
    lines.append("END:VCARD")
    return "".join(fold(line) + CRLF for line in lines)


def _contact(person: Person, channels: Sequence[Channel], organizations: list[str]) -> Contact:
    ordered = sorted(channels, key=lambda c: (not c.is_primary, c.id))
    return Contact(
        uid=f"urn:vitrylo:crm_base.person:{person.id}",
        full_name=person.full_name,
        last_name=person.last_name,
        first_name=person.first_name,
        middle_name=person.middle_name,
        position=person.position,
        birthday=person.birthday,
        phones=[(c.value, c.is_primary) for c in ordered if c.kind == "phone"],
        emails=[(c.value, c.is_primary) for c in ordered if c.kind == "email"],
        organizations=organizations,
    )


def _batch(db: Session, ids: Sequence[int]) -> Iterator[str]:
    persons = {p.id: p for p in db.scalars(select(Person).where(Person.id.in_(ids)))}
    channels: dict[int, list[Channel]] = defaultdict(list)
    for channel in db.scalars(
        select(Channel).where(Channel.person_id.in_(ids), Channel.kind.in_(("phone", "email")))
    ):
        channels[channel.person_id or 0].append(channel)
    organizations: dict[int, list[str]] = defaultdict(list)
    for person_id, name in db.execute(
        select(PersonLink.person_id, Counterparty.name)
        .join(Counterparty, Counterparty.id == PersonLink.counterparty_id)
        .where(PersonLink.person_id.in_(ids))
        .order_by(PersonLink.person_id, PersonLink.is_primary.desc(), Counterparty.name)
    ):
        organizations[person_id].append(name)
    for person_id in ids:  # in the order asked for
        person = persons.get(person_id)
        if person is not None:
            yield render(_contact(person, channels[person_id], organizations[person_id]))


def vcards(db: Session, ids: Iterable[int]) -> Iterator[str]:
    """The vCards of the persons ``ids`` (already narrowed to what the user may see),
    in that order, read :data:`BATCH` at a time."""
    batch: list[int] = []
    for person_id in ids:
        batch.append(person_id)
        if len(batch) == BATCH:
            yield from _batch(db, batch)
            batch = []
    if batch:
        yield from _batch(db, batch)
