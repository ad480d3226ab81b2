"""crm_base: classification of counterparties (CL-3) — hierarchical groups and free tags.

Groups form a tree. Each group keeps a materialised ``path`` (``/1/5/12/``: its ancestors'
ids and its own), so "everything under this group" is one prefix match on an indexed
column instead of a recursive query; moving a group rewrites the paths of its whole
subtree in the same transaction. Tags are flat, with a unique name and a colour from
Bootstrap's palette (a class name, never a style: the CSP forbids inline styles).

What this module gives the rest of crm_base:

- the page ``crm_base.classification`` to manage groups and tags (reading it needs the
  counterparty read right, changing anything ``crm_base.classification.update``);
- a card tab to put a counterparty into groups and give it tags;
- for the counterparty list: :func:`group_subtree_condition`, :func:`tag_condition`,
  the filters :func:`group_filter` / :func:`tag_filter`, the bulk actions
  :func:`add_tag_action` / :func:`add_to_group_action` and :func:`bulk_choices` (the
  drop-downs those actions read, rendered by ``crm_base/classification_bulk.html``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import ColumnElement, and_, delete, false, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from wtforms import IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from addons.crm_base.contacts import clean_text
from addons.crm_base.models import (
    SUBJECT,
    Counterparty,
    CounterpartyGroup,
    CounterpartyTag,
    Group,
    Tag,
)
from addons.crm_base.tabs import (
    counterparty_or_404,
    posted_ok,
    reaches_counterparty,
    render_tab,
)
from addons.crm_base.views import bp
from core.hooktypes import CardTab, TimelineEntry
from core.security import has_permission, require
from core.ui import BulkAction, ListView
from core.ui.formview import MAX_ID
from core.ui.listview import escape_like
from core.web import db_session

READ = "crm_base.counterparty.read"
UPDATE = "crm_base.counterparty.update"
CLASSIFY = "crm_base.classification.update"
# Bootstrap's contextual colours: a tag is drawn as ``badge text-bg-<colour>``.
COLORS: tuple[tuple[str, Any], ...] = (
    ("primary", _l("Blue")),
    ("secondary", _l("Grey")),
    ("success", _l("Green")),
    ("danger", _l("Red")),
    ("warning", _l("Yellow")),
    ("info", _l("Light blue")),
    ("dark", _l("Black")),
)
MAX_PATH = 500  # Group.path's length: it limits how deep the tree can go
INDENT = "\u00a0\u00a0\u00a0"  # non-breaking: a <select> keeps it, so options show depth
BULK_TAG = "bulk_tag_id"  # the fields the bulk actions read from the list's bulk form
BULK_GROUP = "bulk_group_id"


class ClassificationError(ValueError):
    """A change the tree or the tags cannot take; the message says why (translated) and
    ``field`` names the form field it belongs next to."""

    def __init__(self, message: str, field: str = "name") -> None:
        super().__init__(message)
        self.field = field


# -- the tree ---------------------------------------------------------------------------


@dataclass
class Node:
    """A group in the tree with its children (siblings by order, then name)."""

    group: Group
    depth: int
    children: list[Node] = field(default_factory=list)


def group_tree(session: Session) -> list[Node]:
    """The whole tree from one query: a list of root nodes."""
    groups = session.scalars(select(Group).order_by(Group.sort, Group.name, Group.id)).all()
    nodes = {g.id: Node(g, 0) for g in groups}
    roots: list[Node] = []
    for g in groups:  # already in sibling order, so children lists come out sorted
        parent = nodes.get(g.parent_id) if g.parent_id else None
        (parent.children if parent else roots).append(nodes[g.id])

    def set_depth(items: list[Node], depth: int) -> None:
        for node in items:
            node.depth = depth
            set_depth(node.children, depth + 1)

    set_depth(roots, 0)
    return roots


def flatten(nodes: Iterable[Node]) -> list[Node]:
    """Depth-first: a parent, then its subtree, then its next sibling."""
    out: list[Node] = []
    for node in nodes:
        out.append(node)
        out.extend(flatten(node.children))
    return out


def group_choices(session: Session | None = None) -> list[tuple[int, str]]:
    """``(id, label)`` of every group in tree order, indented by depth (for drop-downs)."""
    tree = group_tree(session or db_session())
    return [(n.group.id, INDENT * n.depth + n.group.name) for n in flatten(tree)]


def group_titles(session: Session, group_ids: Iterable[int]) -> dict[int, str]:
    """``{id: "Parent / Child"}``: each group named with its ancestors (two queries)."""
    wanted = set(group_ids)
    if not wanted:
        return {}
    paths = dict(session.execute(select(Group.id, Group.path).where(Group.id.in_(wanted))).all())
    ancestors = {int(p) for path in paths.values() for p in path.strip("/").split("/") if p}
    names = dict(session.execute(select(Group.id, Group.name).where(Group.id.in_(ancestors))).all())
    return {
        gid: " / ".join(names.get(int(p), "?") for p in path.strip("/").split("/") if p)
        for gid, path in paths.items()
    }


def _child_path(parent: Group | None, group_id: int) -> str:
    return f"{parent.path if parent else '/'}{group_id}/"


def _path_condition(path: str, session: Session) -> ColumnElement[bool]:
    """``Group.path`` starts with ``path``: a LIKE with the prefix escaped (PostgreSQL
    answers it from the path index under the C collation), plus on SQLite, whose LIKE is
    case-insensitive and cannot use the index, the same prefix as a range in binary order.
    The paths hold only digits and slashes, so the range is exact."""
    condition = Group.path.like(escape_like(path) + "%", escape="\\")
    if session.get_bind().dialect.name == "sqlite":
        upper = path[:-1] + chr(ord(path[-1]) + 1)
        condition = and_(Group.path >= path, Group.path < upper, condition)
    return condition


def subtree(session: Session, group: Group) -> list[Group]:
    """The group and every group under it."""
    return list(session.scalars(select(Group).where(_path_condition(group.path, session))))


def _check_name(session: Session, name: str, parent_id: int | None, own_id: int | None) -> None:
    """Two groups of one parent may not share a name (they could not be told apart)."""
    stmt = select(Group.id).where(
        func.lower(Group.name) == name.lower(),
        Group.parent_id.is_(None) if parent_id is None else Group.parent_id == parent_id,
    )
    if own_id is not None:
        stmt = stmt.where(Group.id != own_id)
    if session.scalar(stmt.limit(1)) is not None:
        raise ClassificationError(_("This parent already has a group with this name."))


def create_group(session: Session, name: str, parent_id: int | None = None, sort: int = 0) -> Group:
    """A new group under ``parent_id`` (``None``: top level); flushed, not committed."""
    parent = session.get(Group, parent_id) if parent_id is not None else None
    if parent_id is not None and parent is None:
        raise ClassificationError(_("The parent group no longer exists."), "parent_id")
    _check_name(session, name, parent_id, None)
    group = Group(name=name, parent_id=parent_id, sort=sort, path="")
    session.add(group)
    session.flush()  # the id is part of the path
    group.path = _child_path(parent, group.id)
    if len(group.path) > MAX_PATH:
        raise ClassificationError(_("The tree cannot go deeper here."), "parent_id")
    session.flush()
    return group


def move_group(session: Session, group: Group, parent_id: int | None) -> None:
    """Put ``group`` (with its subtree) under ``parent_id``, keeping every path in step.

    Refused under the group itself or one of its descendants (that would cut the subtree
    off the tree in a loop). Flushed, not committed: the caller's one transaction.
    """
    if parent_id == group.parent_id:
        return
    parent = session.get(Group, parent_id) if parent_id is not None else None
    if parent_id is not None:
        if parent is None:
            raise ClassificationError(_("The parent group no longer exists."), "parent_id")
        if parent.path.startswith(group.path):
            raise ClassificationError(
                _("A group cannot be moved under itself or one of its own subgroups."),
                "parent_id",
            )
    _check_name(session, group.name, parent_id, group.id)
    old = group.path
    new = _child_path(parent, group.id)
    nodes = subtree(session, group)
    if max(len(n.path) for n in nodes) - len(old) + len(new) > MAX_PATH:
        raise ClassificationError(_("The tree cannot go deeper here."), "parent_id")
    group.parent_id = parent_id
    for node in nodes:
        node.path = new + node.path[len(old) :]
    session.flush()


def delete_group(session: Session, group: Group) -> int:
    """Delete the group and its subgroups; counterparties stay, leaving those groups.

    Deepest first, one flush each, so the database's own cascade never deletes a row the
    session still holds; every group's deletion is in the audit log. Returns how many.
    """
    nodes = sorted(subtree(session, group), key=lambda n: -len(n.path))
    ids = [n.id for n in nodes]
    session.execute(delete(CounterpartyGroup).where(CounterpartyGroup.group_id.in_(ids)))
    for node in nodes:
        session.delete(node)
        session.flush()
    return len(nodes)


def _check_tag_name(session: Session, name: str, own_id: int | None) -> None:
    stmt = select(Tag.id).where(func.lower(Tag.name) == name.lower())
    if own_id is not None:
        stmt = stmt.where(Tag.id != own_id)
    if session.scalar(stmt.limit(1)) is not None:
        raise ClassificationError(_("A tag with this name already exists."))


def save_tag(session: Session, tag: Tag | None, name: str, color: str) -> Tag:
    """Create (``tag`` is ``None``) or change a tag; flushed, not committed."""
    if color not in dict(COLORS):
        raise ClassificationError(_("Choose one of the offered colours."), "color")
    _check_tag_name(session, name, tag.id if tag else None)
    if tag is None:
        tag = Tag(name=name, color=color)
        session.add(tag)
    else:
        tag.name, tag.color = name, color
    try:
        with session.begin_nested():  # a concurrent twin trips the unique index
            session.flush()
    except IntegrityError:
        raise ClassificationError(_("A tag with this name already exists.")) from None
    return tag


def set_classification(
    session: Session, counterparty_id: int, group_ids: Iterable[int], tag_ids: Iterable[int]
) -> None:
    """Make the counterparty's groups and tags exactly these (only the differences are
    written, so the audit log shows what changed). Not committed."""
    for model, column, wanted in (
        (CounterpartyGroup, CounterpartyGroup.group_id, set(group_ids)),
        (CounterpartyTag, CounterpartyTag.tag_id, set(tag_ids)),
    ):
        links = session.scalars(select(model).where(model.counterparty_id == counterparty_id))
        have = {getattr(link, column.key): link for link in links}
        for key in have.keys() - wanted:
            session.delete(have[key])
        session.add_all(
            model(counterparty_id=counterparty_id, **{column.key: key})
            for key in wanted - have.keys()
        )
    session.flush()


def _link_many(session: Session, model: Any, column: Any, key: int, ids: Sequence[int]) -> int:
    """Link the counterparties ``ids`` to one group or tag; those already linked stay.
    Two queries whatever the count. Returns how many were added."""
    if not ids:
        return 0
    linked = set(
        session.scalars(
            select(model.counterparty_id).where(column == key, model.counterparty_id.in_(ids))
        )
    )
    new = [i for i in ids if i not in linked]
    session.add_all(model(counterparty_id=i, **{column.key: key}) for i in new)
    session.flush()
    return len(new)


# -- for the counterparty list ------------------------------------------------------------


def group_subtree_condition(group_id: int, session: Session | None = None) -> Any:
    """Counterparties in the group or any group under it: a condition on
    ``Counterparty.id`` (nothing matches a group that does not exist)."""
    if not 0 < group_id <= MAX_ID:  # PostgreSQL would refuse a larger integer
        return false()
    session = session or db_session()
    path = session.scalar(select(Group.path).where(Group.id == group_id))
    if not path:
        return false()
    groups = select(Group.id).where(_path_condition(path, session))
    members = select(CounterpartyGroup.counterparty_id).where(
        CounterpartyGroup.group_id.in_(groups)
    )
    return Counterparty.id.in_(members)


def tag_condition(tag_ids: Iterable[int]) -> Any:
    """Counterparties having any of these tags: a condition on ``Counterparty.id``."""
    ids = [i for i in tag_ids if 0 < i <= MAX_ID]
    if not ids:
        return false()
    return Counterparty.id.in_(
        select(CounterpartyTag.counterparty_id).where(CounterpartyTag.tag_id.in_(ids))
    )


def tag_choices(session: Session | None = None) -> list[tuple[int, str]]:
    """``(id, name)`` of every tag, by name."""
    rows = (session or db_session()).execute(select(Tag.id, Tag.name).order_by(Tag.name, Tag.id))
    return [(tid, name) for tid, name in rows]


@dataclass(frozen=True)
class ClassificationFilter:
    """A list filter on one group (with its subgroups) or one tag: a drop-down of
    ``choices()``, the value an id, the condition from ``where(id)``. Its ``kind`` is
    the list view's "related" filter, which core/ui/list_filters.html draws as a select."""

    key: str
    label: Any
    choices: Any  # () -> [(id, label)], read when the filter form is drawn
    where: Any  # (id) -> condition on Counterparty.id
    kind: ClassVar[str] = "related"

    def options(self) -> list[tuple[str, Any]]:
        return [(str(value), label) for value, label in self.choices()]

    def parse(self, args: Mapping[str, str]) -> tuple[Any, dict[str, str]]:
        raw = args.get(self.key, "").strip()
        if not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
            return None, {}
        return int(raw), {self.key: str(int(raw))}

    def condition(self, value: Any) -> Any:
        return self.where(value)


def group_filter(key: str = "group", label: Any = None) -> ClassificationFilter:
    """ "Group (with subgroups)" for the counterparty list's ``filters``."""
    return ClassificationFilter(
        key, label or _l("Group (with subgroups)"), group_choices, group_subtree_condition
    )


def tag_filter(key: str = "tag", label: Any = None) -> ClassificationFilter:
    """ "Tag" for the counterparty list's ``filters``."""
    return ClassificationFilter(key, label or _l("Tag"), tag_choices, lambda v: tag_condition([v]))


def _posted_choice(session: Session, name: str, model: Any) -> int | None:
    """The id of an existing group or tag chosen in the bulk form, else ``None``."""
    raw = request.form.get(name, "").strip()
    if not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        return None
    return int(raw) if session.get(model, int(raw)) is not None else None


def _bulk_add_tag(session: Session, ids: list[Any]) -> int:
    tag_id = _posted_choice(session, BULK_TAG, Tag)
    if tag_id is None:
        flash(_("Choose the tag to add first."), "warning")
        return 0
    return _link_many(session, CounterpartyTag, CounterpartyTag.tag_id, tag_id, ids)


def _bulk_add_to_group(session: Session, ids: list[Any]) -> int:
    group_id = _posted_choice(session, BULK_GROUP, Group)
    if group_id is None:
        flash(_("Choose the group first."), "warning")
        return 0
    return _link_many(session, CounterpartyGroup, CounterpartyGroup.group_id, group_id, ids)


def add_tag_action() -> BulkAction:
    """Bulk action "Add tag": the tag comes from the ``bulk_tag_id`` drop-down that
    ``crm_base/classification_bulk.html`` ties to the list's bulk form."""
    return BulkAction("add_tag", _l("Add tag"), _bulk_add_tag, permission=UPDATE)


def add_to_group_action() -> BulkAction:
    """Bulk action "Add to group" (the ``bulk_group_id`` drop-down)."""
    return BulkAction("add_to_group", _l("Add to group"), _bulk_add_to_group, permission=UPDATE)


def with_classification(view: ListView, filters: bool = True, bulk: bool = True) -> ListView:
    """A copy of the counterparty list ``view`` with the group and tag filters and the two
    bulk actions. A function, not an import-time declaration, because this module adds
    routes to the blueprint views.py defines: views.py calls it inside a function."""
    changes: dict[str, Any] = {}
    if filters:
        changes["filters"] = [*view.filters, group_filter(), tag_filter()]
    if bulk:
        changes["bulk_actions"] = [*view.bulk_actions, add_tag_action(), add_to_group_action()]
    return dataclasses.replace(view, **changes)


def bulk_choices() -> dict[str, Any]:
    """What ``crm_base/classification_bulk.html`` draws its drop-downs from (empty for a
    user who may not change counterparties: no queries then)."""
    if not has_permission(UPDATE):
        return {}
    session = db_session()
    return {"tags": tag_choices(session), "groups": group_choices(session)}


# -- forms --------------------------------------------------------------------------------


def _optional_id(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


class GroupForm(FlaskForm):
    name = StringField(
        _l("Name"), filters=[clean_text], validators=[DataRequired(), Length(max=200)]
    )
    parent_id = SelectField(_l("Parent group"), coerce=_optional_id)
    sort = IntegerField(
        _l("Order"), default=0, validators=[Optional(), NumberRange(-1_000_000, 1_000_000)]
    )


class TagForm(FlaskForm):
    name = StringField(
        _l("Name"), filters=[clean_text], validators=[DataRequired(), Length(max=100)]
    )
    color = SelectField(
        _l("Colour"), choices=[SelectChoice(v, label) for v, label in COLORS], default="secondary"
    )


class AssignForm(FlaskForm):
    groups = SelectMultipleField(_l("Groups"), coerce=int, render_kw={"size": 8})
    tags = SelectMultipleField(_l("Tags"), coerce=int, render_kw={"size": 8})


def _parent_choices(session: Session, group: Group | None) -> list[Any]:
    """Every group as a possible parent; the group's own subtree is shown disabled (and
    refused by :func:`move_group` when posted by hand, with a message)."""
    choices = [SelectChoice("", _("— top level —"))]
    for node in flatten(group_tree(session)):
        label = INDENT * node.depth + node.group.name
        inside = group is not None and node.group.path.startswith(group.path)
        choices.append(SelectChoice(node.group.id, label, {"disabled": True} if inside else {}))
    return choices


def _group_form(session: Session, group: Group | None = None, **kwargs: Any) -> GroupForm:
    form = GroupForm(prefix="group", **kwargs)
    form.parent_id.choices = _parent_choices(session, group)
    return form


# -- the management page --------------------------------------------------------------------


def _page(
    group_form: GroupForm | None = None, tag_form: TagForm | None = None, status: int = 200
) -> ResponseReturnValue:
    session = db_session()
    tags = session.scalars(select(Tag).order_by(Tag.name, Tag.id)).all()
    return (
        render_template(
            "crm_base/classification.html",
            tree=group_tree(session),
            tags=tags,
            group_form=group_form or _group_form(session, formdata=None),
            tag_form=tag_form or TagForm(prefix="tag", formdata=None),
            can_edit=has_permission(CLASSIFY),
            breadcrumbs=[(_("Groups and tags"), None)],
        ),
        status,
    )


@bp.get("/classification")
@require(READ)
def classification() -> ResponseReturnValue:
    """The groups (as a tree) and the tags; the forms only for those who may change them."""
    return _page()


@bp.post("/classification/groups")
@require(CLASSIFY)
def group_create() -> ResponseReturnValue:
    session = db_session()
    form = _group_form(session)
    if not form.validate_on_submit():
        return _page(group_form=form, status=400)
    try:
        group = create_group(session, form.name.data, form.parent_id.data)
    except ClassificationError as error:
        session.rollback()
        form[error.field].errors.append(str(error))
        return _page(group_form=form, status=400)
    session.commit()
    flash(_("Group «%(name)s» created.", name=group.name), "success")
    return redirect(url_for("crm_base.classification"), 303)


def _group_or_404(group_id: int) -> Group:
    group = db_session().get(Group, group_id) if 0 < group_id <= MAX_ID else None
    if group is None:
        abort(404)
    return group


def _group_edit_page(group: Group, form: GroupForm, status: int = 200) -> ResponseReturnValue:
    session = db_session()
    return (
        render_template(
            "crm_base/group_form.html",
            group=group,
            form=form,
            title=group_titles(session, [group.id]).get(group.id, group.name),
            subgroups=len(subtree(session, group)) - 1,
            breadcrumbs=[
                (_("Groups and tags"), url_for("crm_base.classification")),
                (group.name, None),
            ],
        ),
        status,
    )


@bp.route("/classification/groups/<int:group_id>", methods=["GET", "POST"])
@require(CLASSIFY)
def group_edit(group_id: int) -> ResponseReturnValue:
    """Rename, reorder or move a group (with its subtree) under another parent."""
    session = db_session()
    group = _group_or_404(group_id)
    if request.method == "GET":
        return _group_edit_page(group, _group_form(session, group, formdata=None, obj=group))
    form = _group_form(session, group)
    if not form.validate_on_submit():
        return _group_edit_page(group, form, 400)
    try:
        _check_name(session, form.name.data, form.parent_id.data, group.id)
        group.name, group.sort = form.name.data, form.sort.data or 0
        move_group(session, group, form.parent_id.data)
    except ClassificationError as error:
        session.rollback()
        form[error.field].errors.append(str(error))
        return _group_edit_page(_group_or_404(group_id), form, 400)
    session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("crm_base.classification"), 303)


@bp.post("/classification/groups/<int:group_id>/delete")
@require(CLASSIFY)
def group_delete(group_id: int) -> ResponseReturnValue:
    """Asked first in the browser (data-confirm); the subgroups go with the group."""
    group = _group_or_404(group_id)
    if not posted_ok():
        abort(400)
    session = db_session()
    name = group.name
    count = delete_group(session, group)
    session.commit()
    flash(
        _("Group «%(name)s» deleted (with %(n)s subgroup(s)).", name=name, n=count - 1), "success"
    )
    return redirect(url_for("crm_base.classification"), 303)


@bp.post("/classification/tags")
@require(CLASSIFY)
def tag_create() -> ResponseReturnValue:
    session = db_session()
    form = TagForm(prefix="tag")
    if not form.validate_on_submit():
        return _page(tag_form=form, status=400)
    try:
        tag = save_tag(session, None, form.name.data, form.color.data)
    except ClassificationError as error:
        session.rollback()
        form[error.field].errors.append(str(error))
        return _page(tag_form=form, status=400)
    session.commit()
    flash(_("Tag «%(name)s» created.", name=tag.name), "success")
    return redirect(url_for("crm_base.classification"), 303)


def _tag_or_404(tag_id: int) -> Tag:
    tag = db_session().get(Tag, tag_id) if 0 < tag_id <= MAX_ID else None
    if tag is None:
        abort(404)
    return tag


def _tag_edit_page(tag: Tag, form: TagForm, status: int = 200) -> ResponseReturnValue:
    return (
        render_template(
            "crm_base/tag_form.html",
            tag=tag,
            form=form,
            breadcrumbs=[
                (_("Groups and tags"), url_for("crm_base.classification")),
                (tag.name, None),
            ],
        ),
        status,
    )


@bp.route("/classification/tags/<int:tag_id>", methods=["GET", "POST"])
@require(CLASSIFY)
def tag_edit(tag_id: int) -> ResponseReturnValue:
    session = db_session()
    tag = _tag_or_404(tag_id)
    if request.method == "GET":
        return _tag_edit_page(tag, TagForm(prefix="tag", formdata=None, obj=tag))
    form = TagForm(prefix="tag")
    if not form.validate_on_submit():
        return _tag_edit_page(tag, form, 400)
    try:
        save_tag(session, tag, form.name.data, form.color.data)
    except ClassificationError as error:
        session.rollback()
        form[error.field].errors.append(str(error))
        return _tag_edit_page(_tag_or_404(tag_id), form, 400)
    session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("crm_base.classification"), 303)


@bp.post("/classification/tags/<int:tag_id>/delete")
@require(CLASSIFY)
def tag_delete(tag_id: int) -> ResponseReturnValue:
    """Asked first in the browser; the tag leaves every counterparty that had it."""
    tag = _tag_or_404(tag_id)
    if not posted_ok():
        abort(400)
    session = db_session()
    name = tag.name
    session.execute(delete(CounterpartyTag).where(CounterpartyTag.tag_id == tag.id))
    session.delete(tag)
    session.commit()
    flash(_("Tag «%(name)s» deleted.", name=name), "success")
    return redirect(url_for("crm_base.classification"), 303)


# -- the card tab ---------------------------------------------------------------------------


def _assign_form(session: Session, **kwargs: Any) -> AssignForm:
    form = AssignForm(**kwargs)
    form.groups.choices = [SelectChoice(v, label) for v, label in group_choices(session)]
    form.tags.choices = [SelectChoice(v, label) for v, label in tag_choices(session)]
    return form


def _show_tab(counterparty: Counterparty, form: AssignForm | None = None, status: int = 200) -> Any:
    session = db_session()
    group_ids = list(
        session.scalars(
            select(CounterpartyGroup.group_id).where(
                CounterpartyGroup.counterparty_id == counterparty.id
            )
        )
    )
    tags = session.scalars(
        select(Tag)
        .join(CounterpartyTag, CounterpartyTag.tag_id == Tag.id)
        .where(CounterpartyTag.counterparty_id == counterparty.id)
        .order_by(Tag.name)
    ).all()
    can_update = has_permission(UPDATE)
    if form is None and can_update:
        form = _assign_form(session, formdata=None)
        form.groups.data = group_ids
        form.tags.data = [t.id for t in tags]
    return render_tab(
        "classification_card",
        counterparty,
        _("Groups and tags"),
        status,
        groups=sorted(group_titles(session, group_ids).values()),
        tags=tags,
        form=form,
        can_update=can_update,
    )


@bp.get("/counterparties/<int:record_id>/classification")
@require(READ)
def counterparty_classification(record_id: int) -> ResponseReturnValue:
    """The counterparty's groups and tags; the form to change them with the update right."""
    return _show_tab(counterparty_or_404(record_id))


@bp.post("/counterparties/<int:record_id>/classification")
@require(UPDATE)
def counterparty_classification_save(record_id: int) -> ResponseReturnValue:
    """Save the chosen groups and tags in one transaction (ids not offered are refused)."""
    counterparty = counterparty_or_404(record_id)
    session = db_session()
    form = _assign_form(session)
    if not form.validate_on_submit():
        return _show_tab(counterparty, form, 400)
    set_classification(session, counterparty.id, form.groups.data or [], form.tags.data or [])
    session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("crm_base.counterparty_classification", record_id=counterparty.id), 303)


# -- hooks ------------------------------------------------------------------------------


def timeline_entries(subject: str, subject_id: int, user: Any) -> list[TimelineEntry]:
    """Classification changes are not chronology events (the history tab has them)."""
    return []


def card_tabs(subject: str, subject_id: int, user: Any) -> list[CardTab]:
    """ "Groups and tags" on the counterparty card (its content loads from our route)."""
    if subject != SUBJECT or not reaches_counterparty(subject_id, user):
        return []
    url = url_for("crm_base.counterparty_classification", record_id=subject_id)
    return [CardTab("crm_base.classification", str(_("Groups and tags")), url, order=40)]
