"""Assignment at scale (PostgreSQL): the candidate search reads a bounded number of rows however many
requisites the currency has, and the kept turnover stays exact through a mixed run.

The requisites are written in one INSERT (assignment_support.add_requisites_in_bulk).
"""

import json

import pytest
from django.db import connection

from payments.services import assignment

from .assignment_support import add_requisites_in_bulk, make_open_order
from .factories import make_store

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("in_tenant")]


def _plan_nodes(node):
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


def test_the_search_walks_the_rotation_index_and_reads_a_few_rows_of_100k(refs, monkeypatch):
    add_requisites_in_bulk(refs, 100_000, priority=5)
    store = make_store(refs)[0]
    order = make_open_order(store)
    plans = []
    execute = connection.cursor().__class__.execute

    def explained(cursor, sql, params=None):
        if "FROM req_traders r" in sql:
            execute(cursor, "EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
            plans.append(cursor.fetchone()[0])
        return execute(cursor, sql, params)

    monkeypatch.setattr(connection.cursor().__class__, "execute", explained)
    result = assignment.assign_incoming_order(order_id=order.pk, tenant_id=order.tenant_id)
    monkeypatch.undo()

    assert result.assigned
    plan = plans[0]
    plan = plan if isinstance(plan, list) else json.loads(plan)
    nodes = list(_plan_nodes(plan[0]["Plan"]))
    scans = [node for node in nodes if node.get("Relation Name") == "req_traders"]
    assert [node.get("Index Name") for node in scans] == ["ix_req_traders_rotation"], scans
    assert not any(node["Node Type"] == "Sort" for node in nodes)
    # The walk stops at the first free requisite that fits: a handful of rows, not 100 000.
    assert scans[0]["Actual Rows"] * scans[0]["Actual Loops"] <= 5, scans[0]


def test_a_prepared_search_is_still_planned_for_each_order(refs):
    # psycopg prepares a statement run often; PostgreSQL's generic plan for the search joins and sorts
    # every requisite. The assignment has it planned for each order's values instead.
    add_requisites_in_bulk(refs, 100_000, priority=5)
    store = make_store(refs)[0]
    connection.ensure_connection()
    raw = connection.connection
    threshold, raw.prepare_threshold = raw.prepare_threshold, 0  # prepare at once
    try:
        for _ in range(8):
            order = make_open_order(store)
            assert assignment.assign_incoming_order(order_id=order.pk, tenant_id=order.tenant_id).assigned
        with connection.cursor() as cursor:
            cursor.execute("SELECT sum(generic_plans), sum(custom_plans) FROM pg_prepared_statements "
                           "WHERE statement LIKE '%%JOIN banks bk ON bk.id = c.bank_id%%' "
                           "AND statement NOT LIKE '%%pg_prepared_statements%%'")
            (generic, custom), = cursor.fetchall()
    finally:
        raw.prepare_threshold = threshold
    assert (generic, custom) == (0, 8)
