"""core.pagination: a capped count, pages taken ids first in the list's order, Django's paginator when off."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from accounts.tests.factories import UserFactory
from core.pagination import LargeListPaginator

pytestmark = pytest.mark.django_db


class SmallCap(LargeListPaginator):
    count_cap = 5


@pytest.fixture
def users():
    made = [UserFactory(email=f"page-{n}@example.com") for n in range(7)]
    return User.objects.filter(pk__in=[u.pk for u in made]).order_by("-email")


def test_the_count_stops_at_the_cap_and_says_so(users):
    paginator = SmallCap(users, 2)
    assert (paginator.count, paginator.capped, paginator.num_pages) == (5, True, 3)
    exact = SmallCap(users.filter(email__in=["page-1@example.com", "page-2@example.com"]), 2)
    assert (exact.count, exact.capped, exact.num_pages) == (2, False, 1)


def test_a_page_has_the_lists_rows_in_its_order_with_their_related_rows(users):
    page = SmallCap(users.select_related(None), 2).page(2)
    assert [user.email for user in page.object_list] == ["page-4@example.com", "page-3@example.com"]
    assert page.has_next() and page.has_previous()


def test_a_page_costs_two_queries_and_the_count_one(users):
    paginator = SmallCap(users, 2)
    with CaptureQueriesContext(connection) as queries:
        list(paginator.get_page(2).object_list)
    sql = [query["sql"] for query in queries.captured_queries]
    assert len(sql) == 3 and "LIMIT 6" in sql[0] and "LIMIT 2 OFFSET 2" in sql[1] and "IN (" in sql[2]


def test_switched_off_it_is_djangos_paginator(users, settings):
    settings.LARGE_LIST_PAGINATION = False
    paginator = SmallCap(users, 2)
    assert (paginator.count, paginator.capped, paginator.num_pages) == (7, False, 4)
    assert [user.email for user in paginator.page(4).object_list] == ["page-0@example.com"]
