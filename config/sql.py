"""INSERT statements for hot paths: what `obj.save(force_insert=True)` sends, without compiling it each time.

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
            raise RuntimeError(f"config.sql cannot template the INSERT of {meta.label}: {sql[:160]!r}")
        template = _templates[key] = (shape.group(1), shape.group(2), fields)
    return template


def insert_sql(obj: models.Model, connection, *, select_from: str | None = None) -> tuple[str, list]:
    """SQL and parameters inserting the new `obj` and returning its primary key.

    With `select_from` the values are selected from that relation (a CTE name), so the row is only
    written when the relation has a row: `INSERT INTO t (…) SELECT %s, … FROM <select_from> RETURNING pk`.
    """
    head, placeholders, fields = _template(type(obj), obj, connection)
    params = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]
    meta = obj._meta
    qn = connection.ops.quote_name
    returning = f"RETURNING {qn(meta.db_table)}.{qn(meta.pk.column)}"
    if select_from is None:
        return f"{head} VALUES ({placeholders}) {returning}", params
    return f"{head} SELECT {placeholders} FROM {select_from} {returning}", params  # noqa: S608 (identifiers)


def insert(obj: models.Model, connection) -> None:
    """obj.save(force_insert=True) through the cached statement (no signals: for models that have none)."""
    sql, params = insert_sql(obj, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        obj.pk = cursor.fetchone()[0]
    obj._state.adding, obj._state.db = False, connection.alias
