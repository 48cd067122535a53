"""Reading the audit log fast: filtered keyset pages, text search, estimated totals.

Lists are newest first by ``(created_at, id)`` and every filter has an index ending in
those columns, so a page is a short index range scan however deep it is; nothing counts
the table or skips rows with OFFSET. Two shapes need help on PostgreSQL:

* several alternatives (a few actions; an actor's own entries and those they made while
  impersonating; an address as typed and as sealed for its account) become a UNION ALL
  of one ordered index scan each, instead of an OR (or IN) that the planner would answer
  with a sort of every match;
* free-text search first scans the newest rows of the filtered range (cheap when the
  words are common), and asks the trigram index only for what that window did not find
  (cheap when the words are rare).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

from sqlalchemy import String, and_, case, false, func, literal, literal_column, or_, select, union_all
from sqlalchemy.sql import operators

from app.audit.filters import AuditFilter
from app.audit.models import SEALED_PATTERN, SEARCH_DOCUMENT, SEARCH_EXPRESSION, AuditLog
from app.database import LIKE_ESCAPE, contains_pattern
from app.extensions import db
from app.pagination import Keyset, Page
from app.personal_data import vault

KEYSET = Keyset((AuditLog.created_at, AuditLog.id))
# What a list shows (rows, not ORM objects: no JSON to decode, no identity map to fill).
LIST_COLUMNS = (
    AuditLog.id, AuditLog.created_at, AuditLog.actor_id, AuditLog.actor_email, AuditLog.impersonator_id,
    AuditLog.impersonator_email, AuditLog.action, AuditLog.resource_type, AuditLog.resource_id,
    AuditLog.resource_repr, AuditLog.institution_id, AuditLog.description, AuditLog.result, AuditLog.ip,
    AuditLog.request_id,
)
SEARCH_WINDOW = 20_000  # newest rows scanned directly before the trigram index is asked
RARE_ESTIMATE = 2_000  # the planner expects so few matches that the trigram index answers at once
COUNT_CAP = 10_000  # where no estimate exists (SQLite), counting stops here


@dataclass(frozen=True)
class Criteria:
    """A filter as SQL: ``common`` conditions AND any one of the ``alternatives``."""

    common: tuple
    alternatives: tuple[tuple, ...]
    terms: tuple[str, ...]

    def where(self, search: bool = True) -> list:
        """Every condition as one list, the alternatives OR-ed (for plain queries)."""
        conditions = list(self.common)
        if self.alternatives:
            conditions.append(or_(*(and_(*group) for group in self.alternatives)))
        if search:
            conditions.extend(search_conditions(self.terms))
        return conditions


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def search_document():
    """The searched text: description, actor e-mail and resource without their sealed values,
    as the trigram index has it."""
    return literal_column(SEARCH_EXPRESSION, String)


def raw_document():
    """The same text with the sealed values still in (cheap to compute: no regular expression)."""
    return literal_column(SEARCH_DOCUMENT, String)


def search_conditions(terms: tuple[str, ...], raw=None) -> list:
    """One condition per word: each must appear (case-insensitively) somewhere in the entry,
    outside its sealed values. Given ``raw`` (the raw document of rows already selected), the
    sealed values are taken out only where the word appears in the raw text at all."""
    if not terms:
        return []
    if _dialect() == "postgresql":
        if raw is None:
            return [search_document().ilike(contains_pattern(t), escape=LIKE_ESCAPE) for t in terms]
        unsealed = func.regexp_replace(raw, SEALED_PATTERN, " ", "g")
        patterns = [contains_pattern(t) for t in terms]
        return [case((raw.ilike(p, escape=LIKE_ESCAPE), unsealed.ilike(p, escape=LIKE_ESCAPE)), else_=false())
                for p in patterns]
    columns = (AuditLog.description, AuditLog.actor_email, AuditLog.resource_repr)
    return [or_(*(c.ilike(contains_pattern(t), escape=LIKE_ESCAPE) for c in columns)) for t in terms]


def criteria(f: AuditFilter, scope: int | None) -> Criteria:
    """The SQL conditions of a filter, limited to one institution when ``scope`` is set."""
    common = []
    groups: list[list[tuple]] = []
    if scope is not None:
        common.append(AuditLog.institution_id == scope)
    if f.actor_email:
        # Stored sealed for an account (app.personal_data.vault), as typed for an unknown address:
        # one alternative per form, each an ordered walk of its index (an IN list sorts every match).
        forms = dict.fromkeys([f.actor_email, *vault.sealed_forms("user", f.actor_email)])
        groups.append([(AuditLog.actor_email == form,) for form in forms])
    if f.resource_type:
        common.append(AuditLog.resource_type == f.resource_type)
    if f.resource_id:
        common.append(AuditLog.resource_id == f.resource_id)
    if f.since:
        common.append(AuditLog.created_at >= f.since)
    if f.until:
        common.append(AuditLog.created_at < f.until)
    if f.result:
        common.append(AuditLog.result == f.result)
    if f.ip:
        common.append(AuditLog.ip == f.ip)
    if f.impersonated:
        common.append(AuditLog.impersonator_id.is_not(None))
    if f.request_id:
        common.append(AuditLog.request_id == f.request_id)

    if f.actor_id is not None:
        groups.append([
            (AuditLog.actor_id == f.actor_id,),
            (AuditLog.impersonator_id == f.actor_id,
             or_(AuditLog.actor_id != f.actor_id, AuditLog.actor_id.is_(None))),
        ])
    if len(f.actions) == 1:
        common.append(AuditLog.action == f.actions[0])
    elif f.actions:
        groups.append([(AuditLog.action == action,) for action in f.actions])
    alternatives = tuple(tuple(itertools.chain(*combo)) for combo in itertools.product(*groups)) if groups else ()
    return Criteria(tuple(common), alternatives, f.terms)


def page(f: AuditFilter, scope: int | None, *, cursor: str | None = None, direction: str = "next",
         size: int = 50, estimate: Estimate | None = None) -> Page:
    """One page of matching entries (rows of LIST_COLUMNS), newest first.

    ``estimate`` (of :func:`estimate_total`, if the caller has it) picks the search strategy.
    Raises InvalidCursor for a cursor this list did not make.
    """
    crit = criteria(f, scope)
    postgresql = _dialect() == "postgresql"
    if postgresql and crit.terms:
        estimate = estimate or estimate_total(f, scope)
        fetch = _search_fetch(crit, rare=estimate.count <= RARE_ESTIMATE)
    elif postgresql and len(crit.alternatives) > 1:
        fetch = _union_fetch(crit)
    else:
        fetch = _plain_fetch(crit.where())
    found = KEYSET.page_with(fetch, cursor=cursor, direction=direction, size=size)
    # The page reveals its people's values: their keys are read in one query, not one each.
    vault.expect(value for row in found.items
                 for value in (row.actor_email, row.impersonator_email, row.resource_repr, row.description))
    return found


def _retarget(order: list, table) -> list:
    """The same ordering over the columns of a subquery."""
    return [column.desc() if o.modifier is operators.desc_op else column.asc()
            for o in order for column in [table.c[o.element.key]]]


def _bounded(conditions: list, beyond, start) -> list:
    return conditions if start is None else [*conditions, beyond(start)]


def _plain_fetch(conditions: list):
    def fetch(beyond, start, order, limit):
        query = select(*LIST_COLUMNS).where(*_bounded(conditions, beyond, start)).order_by(*order).limit(limit)
        return db.session.execute(query).all()

    return fetch


def _rows_of(ids_query, order, limit: int) -> list:
    ids = ids_query.subquery()
    return db.session.execute(
        select(*LIST_COLUMNS).join(ids, AuditLog.id == ids.c.id).order_by(*order).limit(limit)).all()


def _union_fetch(crit: Criteria):
    """Each alternative walks its own index in order; the union keeps the first ``limit``."""

    def fetch(beyond, start, order, limit):
        branches = [
            select(AuditLog.id).where(*_bounded([*crit.common, *group], beyond, start)).order_by(*order).limit(limit)
            for group in crit.alternatives
        ]
        return _rows_of(union_all(*(select(b.subquery()) for b in branches)), order, limit)

    return fetch


def _search_fetch(crit: Criteria, *, rare: bool):
    """Search on PostgreSQL. Rare words: the trigram index at once. Others: the newest
    ``SEARCH_WINDOW`` rows of the range first (stopping as soon as the page is full), then
    the trigram index for what lies beyond that window."""
    everything = [*crit.where(search=False), *search_conditions(crit.terms)]

    def indexed(beyond, start, order, limit):
        query = select(AuditLog.id).where(*_bounded(everything, beyond, start)).order_by(*order).limit(limit)
        return list(db.session.scalars(query))

    def fetch(beyond, start, order, limit):
        if rare:
            hits = indexed(beyond, start, order, limit)
        else:
            scope = _bounded(crit.where(search=False), beyond, start)
            window = (select(AuditLog.id, AuditLog.created_at, raw_document().label("document"))
                      .where(*scope).order_by(*order).limit(SEARCH_WINDOW).subquery())
            found = select(window.c.id).where(*search_conditions(crit.terms, window.c.document))
            hits = list(db.session.scalars(found.order_by(*_retarget(order, window)).limit(limit)))
            if len(hits) < limit:
                floor = db.session.execute(
                    select(AuditLog.created_at, AuditLog.id).where(*scope).order_by(*order)
                    .offset(SEARCH_WINDOW - 1).limit(1)).first()
                if floor is not None:
                    hits += indexed(beyond, list(floor), order, limit - len(hits))
        if not hits:
            return []
        return db.session.execute(select(*LIST_COLUMNS).where(AuditLog.id.in_(hits)).order_by(*order)).all()

    return fetch


@dataclass(frozen=True)
class Estimate:
    """How many entries match: ``exact`` when counted, else the planner's estimate."""

    count: int
    exact: bool
    capped: bool = False  # counting stopped at COUNT_CAP: "more than"


def estimate_total(f: AuditFilter, scope: int | None) -> Estimate:
    """The number of matching entries without counting them on PostgreSQL (EXPLAIN's rows).

    SQLite has no statistics to ask, so there it counts, but never past COUNT_CAP.
    """
    crit = criteria(f, scope)
    query = select(literal(1)).select_from(AuditLog).where(*crit.where())
    if _dialect() == "postgresql":
        # Lists of values (IN) are written out, as EXPLAIN takes no parameter lists.
        compiled = query.compile(dialect=db.session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
        connection = db.session.connection()
        plan = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params).scalar()
        if isinstance(plan, str):
            plan = json.loads(plan)
        return Estimate(int(plan[0]["Plan"]["Plan Rows"]), exact=False)
    counted = db.session.scalar(select(func.count()).select_from(query.limit(COUNT_CAP + 1).subquery()))
    return Estimate(min(counted, COUNT_CAP), exact=counted <= COUNT_CAP, capped=counted > COUNT_CAP)


def visible_entry(entry_id: int, scope: int | None) -> AuditLog | None:
    """The entry, or None when it does not exist or lies outside the viewer's institution."""
    entry = db.session.get(AuditLog, entry_id)
    if entry is None or (scope is not None and entry.institution_id != scope):
        return None
    return entry


def same_request(entry: AuditLog, scope: int | None, limit: int = 50) -> list[AuditLog]:
    """The other entries written while serving the same request, in the order they were written."""
    if not entry.request_id:
        return []
    query = select(AuditLog).where(AuditLog.request_id == entry.request_id, AuditLog.id != entry.id)
    if scope is not None:
        query = query.where(AuditLog.institution_id == scope)
    return list(db.session.scalars(query.order_by(AuditLog.id).limit(limit)))
