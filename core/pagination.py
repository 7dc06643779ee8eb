"""Pages of long lists that cost the same with a hundred rows or millions (cabinet lists, admin changelists).

Django's Paginator counts every row of the list (`COUNT(*)` over all that match) and asks for a page with
the list's joins and sort applied to every matching row before its LIMIT: with 100 000 orders in a tenant
each of the two takes from a tenth of a second to over a second (bench/pages.py). `LargeListPaginator`:

- counts at most `COUNT_CAP` + 1 rows (`SELECT count(*) FROM (SELECT … LIMIT cap + 1)`, unsorted): past
  the cap the page says "10 000+" and pages reach the cap; filters (date, store, status, search) narrow
  the rest, as a person looking for an order does anyway;
- takes a page's primary keys first — the list's filters and order, none of its `select_related` joins,
  so the database walks the list's index and stops after the page — then that page's rows by those keys,
  in the same order.

`settings.LARGE_LIST_PAGINATION = False` turns both off (Django's Paginator as it is): the switch for
comparing, or for a deployment that wants exact counts whatever they cost.
"""

from functools import cached_property

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

COUNT_CAP = 10_000


def enabled() -> bool:
    return getattr(settings, "LARGE_LIST_PAGINATION", True)


class LargeListPaginator(Paginator):
    """A Paginator for querysets with a capped count and pages fetched ids first (see the module)."""

    count_cap = COUNT_CAP

    def _large(self) -> bool:
        return enabled() and isinstance(self.object_list, QuerySet)

    @cached_property
    def _counted(self) -> int:
        """The rows of the list, counted up to one past the cap."""
        return self.object_list.order_by().values("pk")[: self.count_cap + 1].count()

    @cached_property
    def count(self) -> int:
        if not self._large():
            return super().count
        return min(self._counted, self.count_cap)

    @property
    def capped(self) -> bool:
        """Whether the list has more rows than `count` says (it shows "N+")."""
        return self._large() and self._counted > self.count_cap

    def page(self, number) -> Page:
        if not self._large():
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        return self._get_page(self._rows(bottom, top), number, self)

    def _rows(self, bottom: int, top: int) -> list:
        return rows_by_ids(self.object_list, bottom, top)


def rows_by_ids(queryset: QuerySet, bottom: int, top: int) -> list:
    """`queryset[bottom:top]` as two queries: the ids in the queryset's order (its filters and index, none of
    its select_related joins), then those rows with their joins, in that order."""
    ids = list(queryset.values_list("pk", flat=True)[bottom:top])
    if not ids:
        return []
    by_id = {row.pk: row for row in queryset.filter(pk__in=ids)}
    return [by_id[pk] for pk in ids if pk in by_id]
