"""Demo data for ``make run``: a believable set of Ukrainian clients and prospects.

Forty counterparties (ТОВ, ПрАТ and ФОП) in Kyiv, Lviv, Dnipro, Odesa and Kharkiv with
addresses, phones in E.164, e-mails and web sites; about eighty contact persons with roles,
birthdays spread over the year (a few in the coming week, so the birthday filter and the
reminders have something to show), categories, groups and tags.

The codes are real codes, not random digits: every EDRPOU and RNOKPP gets its check digit
from python-stdnum (``calc_check_digit``) and is checked with ``is_valid``, so the demo
passes the same validation as typed data. A fixed random seed gives the same companies on
every install; only the birthdays near "today" depend on the day of loading.

Loading is one transaction of a few hundred rows, flushed in three batches (well under a
second). The audit log gets one summary entry instead of one per row.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session
from stdnum.ua import edrpou, rntrc

from addons.crm_base.models import (
    Address,
    Channel,
    Counterparty,
    CounterpartyGroup,
    CounterpartyTag,
    Group,
    Person,
    PersonLink,
    PersonTag,
    Tag,
    birth_key,
)

SEED = 20240501
SOON = 6  # persons whose birthday falls within the next 7 days of loading

# city: (region, first digits of its postal codes, phone area code, streets)
CITIES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "Київ": (
        "",
        "0",
        "44",
        (
            "вул. Хрещатик",
            "вул. Велика Васильківська",
            "просп. Перемоги",
            "вул. Січових Стрільців",
            "вул. Богдана Хмельницького",
            "вул. Антоновича",
            "просп. Степана Бандери",
            "вул. Жилянська",
        ),
    ),
    "Львів": (
        "Львівська обл.",
        "79",
        "32",
        ("вул. Городоцька", "просп. Свободи", "вул. Шевченка", "вул. Личаківська", "вул. Зелена"),
    ),
    "Дніпро": (
        "Дніпропетровська обл.",
        "49",
        "56",
        (
            "просп. Дмитра Яворницького",
            "вул. Січеславська Набережна",
            "вул. Робоча",
            "просп. Слобожанський",
        ),
    ),
    "Одеса": (
        "Одеська обл.",
        "65",
        "48",
        ("вул. Дерибасівська", "вул. Рішельєвська", "Французький бульвар", "вул. Канатна"),
    ),
    "Харків": (
        "Харківська обл.",
        "61",
        "57",
        ("вул. Сумська", "просп. Науки", "вул. Полтавський Шлях", "просп. Героїв Харкова"),
    ),
}

# (name, city, web/e-mail slug, industry group, relation)
COMPANIES: tuple[tuple[str, str, str, str, str], ...] = (
    ("ТОВ «Київ-Агросервіс»", "Київ", "kyiv-agroservis", "Агро", "client"),
    ("ПрАТ «Столичний хлібозавод»", "Київ", "stolychnyi-khlib", "Харчова промисловість", "client"),
    ("ТОВ «Ромашка»", "Київ", "romashka", "Торгівля", "client"),
    ("ТОВ «Оболонь-Логістик»", "Київ", "obolon-logistic", "Логістика", "client"),
    ("ТОВ «Софіївська кава»", "Київ", "sofiivska-kava", "Харчова промисловість", "prospect"),
    ("ПрАТ «Київський завод металоконструкцій»", "Київ", "kzmk", "Машинобудування", "client"),
    ("ТОВ «ІТ-Рішення Плюс»", "Київ", "it-rishennia", "ІТ", "client"),
    ("ТОВ «Поділля-Агротрейд»", "Київ", "podillia-agro", "Агро", "prospect"),
    ("ТОВ «Зелений офіс Україна»", "Київ", "green-office", "Торгівля", "prospect"),
    ("ТОВ «Львівська кава»", "Львів", "lvivska-kava", "Харчова промисловість", "client"),
    ("ТОВ «Галицькі смаколики»", "Львів", "halytski-smakolyky", "Харчова промисловість", "client"),
    ("ПрАТ «Львівський меблевий комбінат»", "Львів", "lmk-mebli", "Машинобудування", "client"),
    ("ТОВ «Карпати-Тур»", "Львів", "karpaty-tour", "Послуги", "prospect"),
    ("ТОВ «Високий Замок Софт»", "Львів", "vysokyi-zamok-soft", "ІТ", "client"),
    ("ТОВ «Дніпро-Агро»", "Дніпро", "dnipro-agro", "Агро", "client"),
    (
        "ПрАТ «Придніпровський метизний завод»",
        "Дніпро",
        "prydniprovskyi-metyz",
        "Машинобудування",
        "client",
    ),
    ("ТОВ «Січ-Будмонтаж»", "Дніпро", "sich-budmontazh", "Будівництво", "prospect"),
    ("ТОВ «Новокодацькі теплиці»", "Дніпро", "novokodatski-teplytsi", "Агро", "prospect"),
    ("ТОВ «Дніпроенергоресурс»", "Дніпро", "dniproenergoresurs", "Енергетика", "client"),
    ("ТОВ «Укрпостач»", "Дніпро", "ukrpostach", "Торгівля", "client"),
    ("ТОВ «Чорноморська логістика»", "Одеса", "chornomorska-logistyka", "Логістика", "client"),
    ("ТОВ «Одеський порт-сервіс»", "Одеса", "odesa-port-servis", "Логістика", "prospect"),
    (
        "ПрАТ «Лиманські виноградники»",
        "Одеса",
        "lymanski-vynohradnyky",
        "Харчова промисловість",
        "client",
    ),
    ("ТОВ «Приморський бульвар»", "Одеса", "prymorskyi-bulvar", "Послуги", "prospect"),
    ("ТОВ «Дерибасівська оптика»", "Одеса", "derybasivska-optyka", "Торгівля", "client"),
    ("ПрАТ «Південьенергомонтаж»", "Одеса", "pivden-energomontazh", "Енергетика", "client"),
    ("ТОВ «Слобожанські машини»", "Харків", "slobozhanski-mashyny", "Машинобудування", "client"),
    ("ПрАТ «Харківський приладобудівний завод»", "Харків", "khpz", "Машинобудування", "client"),
    ("ТОВ «Харків-ІнфоСистеми»", "Харків", "kharkiv-infosystems", "ІТ", "prospect"),
    (
        "ТОВ «Салтівський хлібокомбінат»",
        "Харків",
        "saltivskyi-khlib",
        "Харчова промисловість",
        "client",
    ),
    ("ТОВ «Сумська-Трейд»", "Харків", "sumska-trade", "Торгівля", "prospect"),
)

# Sole traders (ФОП): a private person, with an RNOKPP; (last, first, middle, sex, city, trade)
SOLE_TRADERS: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("Коваленко", "Олена", "Петрівна", "f", "Київ", "Торгівля"),
    ("Мельник", "Андрій", "Васильович", "m", "Київ", "ІТ"),
    ("Гнатишин", "Роман", "Ігорович", "m", "Львів", "Послуги"),
    ("Стасюк", "Марта", "Богданівна", "f", "Львів", "Харчова промисловість"),
    ("Шевчук", "Наталія", "Володимирівна", "f", "Львів", "Торгівля"),
    ("Бондаренко", "Сергій", "Миколайович", "m", "Дніпро", "Будівництво"),
    ("Кравець", "Ірина", "Олександрівна", "f", "Одеса", "Послуги"),
    ("Литвиненко", "Дмитро", "Олегович", "m", "Харків", "ІТ"),
    ("Ткачук", "Оксана", "Степанівна", "f", "Харків", "Торгівля"),
)

SURNAMES = (
    "Шевченко",
    "Бойко",
    "Ткаченко",
    "Кравченко",
    "Олійник",
    "Коваль",
    "Поліщук",
    "Лисенко",
    "Гончаренко",
    "Марченко",
    "Руденко",
    "Савченко",
    "Петренко",
    "Павленко",
    "Левченко",
    "Карпенко",
    "Мороз",
    "Кузьменко",
    "Клименко",
    "Василенко",
    "Гриценко",
    "Захарченко",
    "Пономаренко",
    "Дмитренко",
    "Романюк",
    "Антонюк",
    "Федорчук",
    "Сидоренко",
    "Демченко",
    "Яковенко",
    "Онищенко",
    "Тимошенко",
    "Білик",
    "Гуменюк",
    "Мазур",
    "Ковальчук",
)
MALE = (
    ("Олександр", "Олександрович"),
    ("Андрій", "Андрійович"),
    ("Дмитро", "Дмитрович"),
    ("Сергій", "Сергійович"),
    ("Максим", "Петрович"),
    ("Богдан", "Іванович"),
    ("Віталій", "Миколайович"),
    ("Тарас", "Степанович"),
    ("Олег", "Васильович"),
    ("Ігор", "Володимирович"),
    ("Юрій", "Григорович"),
    ("Василь", "Михайлович"),
)
FEMALE = (
    ("Олена", "Олександрівна"),
    ("Наталія", "Іванівна"),
    ("Оксана", "Петрівна"),
    ("Тетяна", "Миколаївна"),
    ("Ірина", "Василівна"),
    ("Юлія", "Сергіївна"),
    ("Світлана", "Андріївна"),
    ("Марія", "Богданівна"),
    ("Ганна", "Дмитрівна"),
    ("Людмила", "Володимирівна"),
    ("Катерина", "Юріївна"),
    ("Софія", "Тарасівна"),
)
# (role on the link, position, person category or "")
ROLES = (
    ("директор", "Директор", "ЛПР"),
    ("головний бухгалтер", "Головний бухгалтер", "Бухгалтерія"),
    ("менеджер із закупівель", "Менеджер із закупівель", ""),
    ("комерційний директор", "Комерційний директор", "ЛПР"),
    ("юрист", "Юрист", ""),
    ("інженер", "Головний інженер", "Технічний контакт"),
    ("офіс-менеджер", "Офіс-менеджер", ""),
    ("логіст", "Логіст", ""),
)
GREET = "Привітати з днем народження"
TAGS = (
    ("VIP", "danger"),
    ("Постійний клієнт", "success"),
    ("Дилер", "primary"),
    ("Виставка 2024", "info"),
    ("ЛПР", "warning"),
    ("Бухгалтерія", "secondary"),
    ("Технічний контакт", "secondary"),
    (GREET, "info"),
)
REGIONS = {"Київ": "Київ", "Львів": "Захід", "Дніпро": "Схід", "Харків": "Схід", "Одеса": "Південь"}
FIRST_DIGITS = {"44": "2345", "32": "2", "56": "37", "48": "37", "57": "37"}
MOBILE_CODES = ("50", "66", "95", "99", "67", "68", "96", "97", "98", "63", "73", "93")

TRANSLIT = {
    **dict(zip("абвгґдезиіїйклмнопрстуф", "abvhgdezyiiiklmnoprstuf", strict=True)),
    "х": "kh",
    "є": "ie",
    "ж": "zh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ю": "iu",
    "я": "ia",
    "ь": "",
    "'": "",
}


def translit(text: str) -> str:
    """Latin letters for an e-mail address (the national transliteration, simplified)."""
    return "".join(TRANSLIT.get(ch, ch) for ch in text.lower() if ch.isalnum() or ch == "'")


def make_edrpou(rng: random.Random, used: set[str]) -> str:
    """An 8-digit EDRPOU code with its check digit (python-stdnum's algorithm)."""
    while True:
        body = str(rng.randint(2_000_000, 4_599_999))
        code = body + edrpou.calc_check_digit(body)
        if edrpou.is_valid(code) and code not in used:
            used.add(code)
            return code


def make_rnokpp(rng: random.Random, born: date, male: bool) -> str:
    """A 10-digit RNOKPP: days since 1899-12-31, a serial whose last digit is odd for men
    and even for women, and the check digit (python-stdnum's algorithm)."""
    while True:
        days = (born - date(1899, 12, 31)).days
        serial = rng.randint(0, 999) * 10 + rng.choice((1, 3, 5, 7, 9) if male else (0, 2, 4, 6, 8))
        body = f"{days:05d}{serial:04d}"
        code = body + rntrc.calc_check_digit(body)
        if rntrc.is_valid(code):
            return code


def landline(rng: random.Random, city: str) -> str:
    """An office number of the city, with a first digit its exchanges really use."""
    code = CITIES[city][2]
    return f"+380{code}{rng.choice(FIRST_DIGITS[code])}{rng.randint(0, 999_999):06d}"


def mobile(rng: random.Random) -> str:
    return f"+380{rng.choice(MOBILE_CODES)}{rng.randint(1_000_000, 9_999_999)}"


def address(rng: random.Random, counterparty_id: int | None, city: str, kind: str) -> Address:
    region, postal, _code, streets = CITIES[city]
    line = f"{rng.choice(streets)}, {rng.randint(1, 120)}"
    if rng.random() < 0.5:
        line += f", оф. {rng.randint(1, 400)}"
    rest = 5 - len(postal)
    postal_code = f"{postal}{rng.randint(10 ** (rest - 1), 10**rest - 1)}"
    return Address(
        counterparty_id=counterparty_id,
        kind=kind,
        postal_code=postal_code,
        region=region,
        city=city,
        line=line,
    )


def birthday(rng: random.Random, soon_from: date | None = None) -> date:
    """A birthday in 1962–2001: on a random day, or ``soon_from`` itself."""
    if soon_from is None:
        return date(rng.randint(1962, 2001), 1, 1) + timedelta(days=rng.randint(0, 364))
    year = rng.randint(1962, 2001)
    if (soon_from.month, soon_from.day) == (2, 29):
        year -= year % 4  # a leap year, for a person born on February 29
    return date(year, soon_from.month, soon_from.day)


def _classification(session: Session) -> tuple[dict[str, Group], dict[str, Tag]]:
    """Two group trees (by industry, by region) and the tags; ``path`` is ``/id/…/``."""
    industries = sorted({c[3] for c in COMPANIES} | {t[5] for t in SOLE_TRADERS})
    roots = {"industry": Group(name="Галузі", sort=10), "region": Group(name="Регіони", sort=20)}
    session.add_all(roots.values())
    session.flush()
    for root in roots.values():
        root.path = f"/{root.id}/"
    groups: dict[str, Group] = {}
    for n, name in enumerate(industries):
        groups[name] = Group(parent_id=roots["industry"].id, name=name, sort=n)
    for n, name in enumerate(dict.fromkeys(REGIONS.values())):
        groups[name] = Group(parent_id=roots["region"].id, name=name, sort=n)
    tags = {name: Tag(name=name, color=color) for name, color in TAGS}
    session.add_all([*groups.values(), *tags.values()])
    session.flush()
    parents = {g.id: g for g in roots.values()}
    for group in groups.values():
        group.path = f"{parents[group.parent_id or 0].path}{group.id}/"
    return groups, tags


def _counterparties(
    rng: random.Random, session: Session, groups: dict[str, Group], tags: dict[str, Tag]
) -> list[tuple[Counterparty, str, str]]:
    """The companies and sole traders; returns (record, city, e-mail domain)."""
    used: set[str] = set()
    made: list[tuple[Counterparty, str, str, str]] = []
    for name, city, slug, industry, relation in COMPANIES:
        record = Counterparty(
            name=name,
            kind="company",
            relation=relation,
            tax_code=make_edrpou(rng, used),
            website=f"https://{slug}.com.ua" if rng.random() < 0.7 else "",
        )
        made.append((record, city, f"{slug}.com.ua", industry))
    for last, first, middle, sex, city, trade in SOLE_TRADERS:
        born = birthday(rng)
        record = Counterparty(
            name=f"ФОП {last} {first} {middle}",
            kind="person",
            relation=rng.choice(("client", "client", "prospect")),
            tax_code=make_rnokpp(rng, born, sex == "m"),
        )
        made.append((record, city, "ukr.net", trade))
    for n in (5, 17, 33):  # a few that stopped working with us
        made[n][0].status = "inactive"
    session.add_all(r for r, *_rest in made)
    session.flush()

    rows: list[Any] = []
    for record, city, domain, industry in made:
        rows.append(CounterpartyGroup(counterparty_id=record.id, group_id=groups[industry].id))
        rows.append(CounterpartyGroup(counterparty_id=record.id, group_id=groups[REGIONS[city]].id))
        if record.relation == "client" and rng.random() < 0.5:
            rows.append(
                CounterpartyTag(counterparty_id=record.id, tag_id=tags["Постійний клієнт"].id)
            )
        if rng.random() < 0.15:
            rows.append(CounterpartyTag(counterparty_id=record.id, tag_id=tags["VIP"].id))
        if rng.random() < 0.15:
            rows.append(CounterpartyTag(counterparty_id=record.id, tag_id=tags["Дилер"].id))
        phone = landline(rng, city) if record.kind == "company" else mobile(rng)
        rows.append(Channel(counterparty_id=record.id, kind="phone", value=phone, is_primary=True))
        if record.kind == "company":
            email = f"info@{domain}"
            rows.append(Channel(counterparty_id=record.id, kind="email", value=email))
            rows.append(address(rng, record.id, city, "legal"))
            if rng.random() < 0.4:
                rows.append(address(rng, record.id, city, "actual"))
            if rng.random() < 0.3:
                rows.append(address(rng, record.id, city, "delivery"))
            if rng.random() < 0.3:
                value = f"@{domain.split('.')[0].replace('-', '_')}"
                rows.append(Channel(counterparty_id=record.id, kind="telegram", value=value))
        else:
            first = record.name.split()[2]
            email = f"{translit(first)}.{translit(record.name.split()[1])}@{domain}"
            rows.append(Channel(counterparty_id=record.id, kind="email", value=email))
            rows.append(Channel(counterparty_id=record.id, kind="viber", value=phone))
            rows.append(address(rng, record.id, city, "legal"))
    session.add_all(rows)
    return [(record, city, domain) for record, city, domain, _i in made]


def _persons(
    rng: random.Random,
    session: Session,
    counterparties: list[tuple[Counterparty, str, str]],
    tags: dict[str, Tag],
    today: date,
) -> int:
    """Two or three persons per company, one per sole trader; a few work with two."""
    made: list[tuple[Person, list[tuple[Counterparty, str, bool]], str, str]] = []
    for record, _city, domain in counterparties:
        count = 1 if record.kind == "person" else rng.choice((2, 2, 3))
        roles = rng.sample(ROLES, count)
        if record.kind == "company" and roles[0][0] != "директор":
            roles[0] = ROLES[0]
        for n, (role, position, category) in enumerate(roles):
            male = rng.random() < 0.5
            first, middle = rng.choice(MALE if male else FEMALE)
            last = rng.choice(SURNAMES)
            born = birthday(rng)
            if record.kind == "person":
                role, position, category = "помічник", "Помічник", ""
            person = Person(
                last_name=last,
                first_name=first,
                middle_name=middle,
                full_name=f"{last} {first} {middle}",
                birthday=born,
                birth_key=birth_key(born),
                position=position,
            )
            mail_domain = domain if record.kind == "company" else "gmail.com"
            email = f"{translit(first)}.{translit(last)}@{mail_domain}"
            made.append((person, [(record, role, n == 0)], email, category))
    for n, index in enumerate(rng.sample(range(len(made)), SOON)):  # the coming week
        person = made[index][0]
        person.birthday = birthday(rng, today + timedelta(days=n))
        person.birth_key = birth_key(person.birthday)
    accountants = [m for m in made if m[3] == "Бухгалтерія"][:3]
    traders = [c for c, *_rest in counterparties if c.kind == "person"]
    for n, (_person, links, _email, _category) in enumerate(accountants):
        links.append((traders[n], "бухгалтер на аутсорсі", False))

    session.add_all(p for p, *_rest in made)
    session.flush()
    week = {birth_key(today + timedelta(days=n)) for n in range(7)}
    rows: list[Any] = []
    for person, links, email, category in made:
        phone = mobile(rng)
        rows.append(Channel(person_id=person.id, kind="phone", value=phone, is_primary=True))
        rows.append(Channel(person_id=person.id, kind="email", value=email))
        if rng.random() < 0.3:
            rows.append(Channel(person_id=person.id, kind="viber", value=phone))
        if rng.random() < 0.2:
            rows.append(Channel(person_id=person.id, kind="telegram", value=phone))
        for record, role, primary in links:
            rows.append(
                PersonLink(
                    person_id=person.id, counterparty_id=record.id, role=role, is_primary=primary
                )
            )
        if category:
            rows.append(PersonTag(person_id=person.id, tag_id=tags[category].id))
        if person.birth_key in week:
            rows.append(PersonTag(person_id=person.id, tag_id=tags[GREET].id))
    session.add_all(rows)
    return len(made)


def load(session: Session, today: date | None = None) -> None:
    """Insert the demo set (called once, when crm_base is installed with ``--demo``)."""
    from core.audit import record

    rng = random.Random(SEED)
    audit = session.info.get("audit")
    session.info["audit"] = False  # one summary entry instead of one per row
    try:
        groups, tags = _classification(session)
        counterparties = _counterparties(rng, session, groups, tags)
        persons = _persons(rng, session, counterparties, tags, today or date.today())
        session.flush()
    finally:
        if audit is None:
            session.info.pop("audit", None)
        else:
            session.info["audit"] = audit
    record(session, "demo", "crm_base", "", counterparties=len(counterparties), persons=persons)
