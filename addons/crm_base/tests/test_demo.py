"""The demo data (``make run``): believable, valid by the product's own checks, fast."""

from __future__ import annotations

import time
from datetime import date

from sqlalchemy import func, select
from stdnum.ua import edrpou, rntrc

from addons.crm_base import codes, demo
from addons.crm_base.models import (
    Address,
    Channel,
    Counterparty,
    CounterpartyGroup,
    Group,
    Person,
    PersonLink,
    PersonTag,
)
from addons.crm_base.persons import birthdays_between
from core.models import AuditEntry

DEMO_NAMES = [c[0] for c in demo.COMPANIES] + [
    f"ФОП {last} {first} {middle}" for last, first, middle, *_rest in demo.SOLE_TRADERS
]


def test_demo_loads_fast_with_valid_codes_contacts_and_birthdays(vitrylo_app, db_session):
    audit_before = db_session.scalar(select(func.count()).select_from(AuditEntry))
    started = time.perf_counter()
    demo.load(db_session, today=date(2024, 12, 28))
    db_session.flush()
    assert time.perf_counter() - started < 2.0

    records = db_session.scalars(
        select(Counterparty).where(Counterparty.name.in_(DEMO_NAMES))
    ).all()
    assert len(records) == len(DEMO_NAMES) == 40
    companies = [r for r in records if r.kind == "company"]
    traders = [r for r in records if r.kind == "person"]
    assert {r.name.split()[0] for r in companies} == {"ТОВ", "ПрАТ"} and len(traders) == 9
    assert all(edrpou.is_valid(r.tax_code) and len(r.tax_code) == 8 for r in companies)
    assert all(rntrc.is_valid(r.tax_code) and len(r.tax_code) == 10 for r in traders)
    assert len({r.tax_code for r in records}) == 40
    assert {r.relation for r in records} == {"client", "prospect"}
    assert "inactive" in {r.status for r in records}

    ids = [r.id for r in records]
    cities = set(db_session.scalars(select(Address.city).where(Address.counterparty_id.in_(ids))))
    assert cities == {"Київ", "Львів", "Дніпро", "Одеса", "Харків"}
    persons = db_session.scalars(
        select(Person).join(PersonLink).where(PersonLink.counterparty_id.in_(ids)).distinct()
    ).all()
    assert 75 <= len(persons) <= 90
    assert all(p.full_name == f"{p.last_name} {p.first_name} {p.middle_name}" for p in persons)
    person_ids = [p.id for p in persons]
    channels = db_session.scalars(
        select(Channel).where(
            (Channel.counterparty_id.in_(ids)) | (Channel.person_id.in_(person_ids))
        )
    ).all()
    with vitrylo_app.test_request_context():
        for channel in channels:
            if channel.kind in ("phone", "viber"):
                assert codes.normalize_phone(channel.value) == channel.value
            if channel.kind == "email":
                assert codes.normalize_email(channel.value) == channel.value

    # birthdays spread over the year, and some in the coming week (across the new year)
    assert len({p.birthday.month for p in persons}) == 12
    soon = db_session.scalars(
        select(Person.id).where(Person.id.in_(person_ids), birthdays_between(date(2024, 12, 28), 7))
    ).all()
    assert len(soon) >= demo.SOON
    greeted = db_session.scalars(
        select(PersonTag.person_id).where(PersonTag.person_id.in_(soon))
    ).all()
    assert greeted

    # groups form trees whose paths lead from the root
    for group in db_session.scalars(select(Group).where(Group.name.in_(("Київ", "Агро")))):
        parent = db_session.get(Group, group.parent_id)
        assert group.path == f"{parent.path}{group.id}/" == f"/{parent.id}/{group.id}/"
    grouped = db_session.scalar(
        select(func.count(func.distinct(CounterpartyGroup.counterparty_id))).where(
            CounterpartyGroup.counterparty_id.in_(ids)
        )
    )
    assert grouped == 40

    # one audit entry for the load, not one per row
    audit_after = db_session.scalar(select(func.count()).select_from(AuditEntry))
    assert audit_after == audit_before + 1


def test_the_manifest_loads_the_demo_on_install(make_kernel):
    kernel = make_kernel()
    kernel.manager.install(["crm_base"], demo=True)
    with kernel.db.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Counterparty)) == 40
        assert session.scalar(select(func.count()).select_from(Person)) >= 75
