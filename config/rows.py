"""Model instances from one hand-written SELECT whose SQL is built once per process.

For the few reads on the hottest path (the POS earn: the API key, the branch, the member, the
member's tier, the accounts it locks). There the ORM spends more CPU compiling each query
(0.5-1 ms: resolving lookups and joins, building the select list) than PostgreSQL spends
answering it, on every request, for the same shape of query. A ``Rows`` is that shape compiled
once: the model's columns (minus ``defer``) and those of the foreign keys it follows, a fixed
``WHERE`` written against the alias ``t``, and the placeholders filled per call.

The instances are ordinary model instances, as the ORM would build them: ``Model.from_db`` with
the fields' database converters applied (JSON, encrypted text), deferred fields loaded on first
access, and the followed foreign keys cached on the instance as ``select_related`` caches them.
Everything else (writes, admin, reports) uses the ORM.

These statements (and the hot writes that use ``Insert``) run on ``cursor()``: server-side
binding, so the values travel apart from the fixed statement text and PostgreSQL keeps the
statement prepared per connection once psycopg has seen it ``DATABASE_PREPARE_THRESHOLD`` times
(settings): no parsing or planning per request. The ORM's own cursors keep client-side binding.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.postgresql.base import ServerBindingCursor


def cursor():
    """A cursor with server-side binding on the default connection, wrapped as Django wraps its own
    (query logging in tests and ``DEBUG``, database errors as ``django.db`` errors)."""
    db = connections[DEFAULT_DB_ALIAS]  # once: each ``connection.x`` is a thread-local lookup
    if db.vendor != "postgresql":
        raise ImproperlyConfigured("Taem runs on PostgreSQL only: set DATABASE_URL=postgres://… "
                                   "(make run and make test set one up)")
    db.close_if_health_check_failed()
    db.ensure_connection()
    with db.wrap_database_errors:
        return db._prepare_cursor(ServerBindingCursor(db.connection))  # Django's own wrapping


class Rows:
    """``SELECT <columns> FROM <model> t [LEFT JOIN <related> ...] WHERE <where> [ORDER BY] [LIMIT] [FOR UPDATE]``.

    ``related``: names of foreign keys of ``model`` to fetch in the same query (a LEFT JOIN each;
    a null key gives ``None``), with ``defer`` naming ``"fk__field"`` to leave out of a joined model
    or ``"field"`` of ``model`` itself. ``where`` and ``order_by`` name columns as ``t.<column>``
    and take ``%s`` placeholders. ``lock`` adds ``FOR UPDATE OF t`` (only ``model``'s rows).
    ``also``: ``(other model, condition)``, one more LEFT JOIN (alias ``j``) of a model ``model``
    has no foreign key to; ``pair()`` returns it beside the instance (its placeholders come
    first: the join precedes the WHERE).
    """

    def __init__(self, model: type[models.Model], *, where: str, related: tuple[str, ...] = (),
                 defer: tuple[str, ...] = (), order_by: str = "", limit: int | None = None, lock: bool = False,
                 also: tuple[type[models.Model], str] | None = None):
        self.model = model
        parts = [_Part(model, "t", [name for name in defer if "__" not in name])]
        joins = []
        for index, name in enumerate(related):
            field = model._meta.get_field(name)
            alias = f"r{index}"
            parts.append(_Part(field.related_model, alias,
                               [rest for name_, _sep, rest in (d.partition("__") for d in defer) if name_ == name and rest],
                               via=field))
            target = field.target_field.column
            joins.append(f'LEFT JOIN "{field.related_model._meta.db_table}" {alias} '
                         f'ON {alias}."{target}" = t."{field.column}"')
        self.also = None
        if also is not None:
            other, condition = also
            self.also = _Part(other, "j", [])
            parts.append(self.also)
            joins.append(f'LEFT JOIN "{other._meta.db_table}" j ON {condition}')
        self.parts = parts
        columns = ", ".join(column for part in parts for column in part.columns)
        sql = f'SELECT {columns} FROM "{model._meta.db_table}" t {" ".join(joins)} WHERE {where}'  # noqa: S608 - model metadata and code constants, values are parameters
        if order_by:
            sql += f" ORDER BY {order_by}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        if lock:
            sql += " FOR UPDATE OF t"
        self.sql = sql

    def all(self, params) -> list[models.Model]:
        with cursor() as rows_cursor:
            rows_cursor.execute(self.sql, params)
            rows = rows_cursor.fetchall()
        return [self._instance(row) for row in rows]

    def first(self, params) -> models.Model | None:
        row = self._first_row(params)
        return None if row is None else self._instance(row)

    def pair(self, params) -> tuple[models.Model, models.Model | None] | None:
        """The first row as ``(instance, the also-joined instance or None)``; None without a row."""
        row = self._first_row(params)
        if row is None:
            return None
        values = row[len(row) - len(self.also.fields):]
        return self._instance(row), None if values[self.also.pk_index] is None else self.also.build(values)

    def _first_row(self, params):
        with cursor() as rows_cursor:
            rows_cursor.execute(self.sql, params)
            return rows_cursor.fetchone()

    def _instance(self, row):
        base, *related = self.parts
        position = len(base.fields)
        instance = base.build(row[:position])
        for part in related:
            if part is self.also:
                break
            values = row[position:position + len(part.fields)]
            position += len(part.fields)
            part.via.set_cached_value(instance, None if values[part.pk_index] is None else part.build(values))
        return instance


class _Part:
    """One model's columns in the select list, and how to turn them back into an instance."""

    def __init__(self, model, alias: str, defer: list[str], via=None):
        unknown = set(defer) - {field.name for field in model._meta.concrete_fields}
        if unknown:
            raise ValueError(f"{model.__name__} has no field(s) {sorted(unknown)} to defer")
        self.model, self.via = model, via
        self.fields = [field for field in model._meta.concrete_fields if field.name not in defer]
        self.attnames = {field.attname for field in self.fields}
        self.columns = [f'{alias}."{field.column}"' for field in self.fields]
        self.pk_index = self.fields.index(model._meta.pk)
        db = connections[DEFAULT_DB_ALIAS]
        self.converters = [(index, [(converter, field.get_col(alias)) for converter in field.get_db_converters(db)])
                           for index, field in enumerate(self.fields) if field.get_db_converters(db)]

    def build(self, values):
        if self.converters:
            db = connections[DEFAULT_DB_ALIAS]
            values = list(values)
            for index, converters in self.converters:
                for converter, expression in converters:
                    values[index] = converter(values[index], expression, db)
        return self.model.from_db(DEFAULT_DB_ALIAS, self.attnames, values)


class Insert:
    """The ``INSERT`` of one model's row, its column list built once.

    ``params(instance)`` prepares an unsaved instance (built with the model's constructor, so its
    defaults apply) as ``Model.save()`` would: ``pre_save`` (``auto_now`` times are set on the
    instance) and ``get_db_prep_save`` per field; an auto primary key is left to the database.
    ``saved(instance, pk)`` marks it saved. ``statement`` inserts one row; callers that write
    related rows in the same round trip put ``columns`` and ``placeholders`` into their own
    ``WITH ... INSERT ... RETURNING``.
    """

    def __init__(self, model: type[models.Model]):
        self.model = model
        self.fields = [field for field in model._meta.concrete_fields
                       if not (field.primary_key and isinstance(field, models.AutoField))]
        self.table = f'"{model._meta.db_table}"'
        self.columns = ", ".join(f'"{field.column}"' for field in self.fields)
        self.placeholders = ", ".join(["%s"] * len(self.fields))
        self.statement = f"INSERT INTO {self.table} ({self.columns}) VALUES ({self.placeholders})"  # noqa: S608 - model metadata

    def params(self, instance: models.Model) -> list:
        db = connections[DEFAULT_DB_ALIAS]
        return [field.get_db_prep_save(field.pre_save(instance, True), db) for field in self.fields]

    @staticmethod
    def saved(instance: models.Model, pk) -> models.Model:
        instance.pk = pk
        instance._state.adding = False
        instance._state.db = DEFAULT_DB_ALIAS
        return instance
