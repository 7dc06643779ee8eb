"""INSERT and UPDATE statements for hot paths: what `save()` sends, without compiling it each time.

Django compiles an INSERT anew for every save (about a third of a store API request's CPU went there).
The statement's text depends only on the model and the database, so it is compiled once, by Django's
own compiler, and kept; each call only computes the values, the way the compiler does
(`field.pre_save(obj, add=True)`, then `field.get_db_prep_save`), so defaults, auto_now and encrypted
fields come out exactly as with save().
"""

import re

from django.db import models
from django.db.models.sql import InsertQuery

_INSERT_VALUES = re.compile(r"^(INSERT INTO .+?) VALUES \((.*)\)$", re.DOTALL)
_templates: dict[tuple, tuple[str, str, list[models.Field]]] = {}
_updates: dict[tuple, tuple[str, list[models.Field]]] = {}


def _template(model: type[models.Model], obj: models.Model, connection) -> tuple[str, str, list[models.Field]]:
    """(`INSERT INTO t (cols)`, `%s, %s, …`, fields) of `model`, compiled once per model and database."""
    key = (model, connection.alias)
    template = _templates.get(key)
    if template is None:
        meta = model._meta
        fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field and not f.generated]
        query = InsertQuery(model)
        query.insert_values(fields, [obj])
        [(sql, _params)] = query.get_compiler(connection=connection).as_sql()
        shape = _INSERT_VALUES.match(sql)
        if shape is None or shape.group(2) != ", ".join(["%s"] * len(fields)):
            # a field with its own placeholder, or a Django upgrade that changed the shape: never guess
            raise RuntimeError(f"core.sql cannot template the INSERT of {meta.label}: {sql[:160]!r}")
        template = _templates[key] = (shape.group(1), shape.group(2), fields)
    return template


def _values(obj: models.Model, fields: list[models.Field], connection) -> list:
    """The INSERT parameters of `obj`, as the compiler computes them (defaults and auto_now applied)."""
    return [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]


def _returning(meta, connection) -> str:
    qn = connection.ops.quote_name
    return f"RETURNING {qn(meta.db_table)}.{qn(meta.pk.column)}"


def mark_saved(obj: models.Model, pk, connection) -> None:
    """What save() leaves on an instance it inserted: its key, and no longer `adding`."""
    obj.pk = pk
    obj._state.adding, obj._state.db = False, connection.alias


def insert_sql(obj: models.Model, connection, *, select_from: str | None = None,
               on_conflict_do_nothing: bool = False) -> tuple[str, list]:
    """SQL and parameters inserting the new `obj` and returning its primary key.

    With `select_from` the values are selected from that relation (a CTE name), so the row is only
    written when the relation has a row: `INSERT INTO t (…) SELECT %s, … FROM <select_from> RETURNING pk`.
    With `on_conflict_do_nothing` a row that would break a unique constraint is not written (and no key
    is returned) instead of raising.
    """
    head, placeholders, fields = _template(type(obj), obj, connection)
    returning = _returning(obj._meta, connection)
    if on_conflict_do_nothing:
        returning = f"ON CONFLICT DO NOTHING {returning}"
    params = _values(obj, fields, connection)
    if select_from is None:
        return f"{head} VALUES ({placeholders}) {returning}", params
    return f"{head} SELECT {placeholders} FROM {select_from} {returning}", params  # noqa: S608 (identifiers)


def insert(obj: models.Model, connection) -> None:
    """obj.save(force_insert=True) through the cached statement (no signals: for models that have none)."""
    insert_many([obj], connection)


def insert_many(objs: list[models.Model], connection) -> None:
    """Several new rows of one model in ONE statement (`VALUES (…), (…) RETURNING pk`), in list order.

    The primary keys come back in the order of the VALUES rows, as Django's bulk_create also relies on,
    so a serial key grows with the list (callback events are delivered in that order).
    """
    if not objs:
        return
    model = type(objs[0])
    if any(type(obj) is not model for obj in objs):
        raise TypeError("insert_many() takes rows of one model.")
    head, placeholders, fields = _template(model, objs[0], connection)
    params = [value for obj in objs for value in _values(obj, fields, connection)]
    rows = ", ".join([f"({placeholders})"] * len(objs))
    with connection.cursor() as cursor:
        cursor.execute(f"{head} VALUES {rows} {_returning(model._meta, connection)}", params)
        for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
            mark_saved(obj, pk, connection)


def update(obj: models.Model, field_names: tuple[str, ...] | list[str], connection) -> int:
    """obj.save(update_fields=field_names) through a cached `UPDATE t SET … WHERE pk = %s` (no signals);
    returns the number of rows changed. `auto_now` fields named here get the current time, as with save()."""
    model = type(obj)
    key = (model, tuple(field_names), connection.alias)
    template = _updates.get(key)
    if template is None:
        meta = model._meta
        fields = [meta.get_field(name) for name in field_names]
        if any(not f.concrete or f.primary_key or hasattr(f, "get_placeholder") for f in fields):
            raise RuntimeError(f"core.sql cannot template an UPDATE of {meta.label} {list(field_names)}.")
        qn = connection.ops.quote_name
        assignments = ", ".join(f"{qn(f.column)} = %s" for f in fields)
        template = _updates[key] = (
            f"UPDATE {qn(meta.db_table)} SET {assignments} WHERE {qn(meta.pk.column)} = %s",  # noqa: S608
            fields)
    statement, fields = template
    params = [field.get_db_prep_save(field.pre_save(obj, False), connection) for field in fields]
    params.append(obj._meta.pk.get_db_prep_value(obj.pk, connection))
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount
