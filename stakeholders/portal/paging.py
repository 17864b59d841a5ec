"""Pages of large lists: the page's ids are sorted on their own narrow rows, then only that
page's rows are read whole with what they join. Sorting 20,000 full rows joined to their
buildings took half of a large page's time."""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet


def page_by_ids(ordered: QuerySet, number, per_page: int, *, related: tuple[str, ...] = ()) -> Page:
    """Page `number` of `ordered` (a queryset in the order to show), its rows read with
    `related` joined; a page past the end gives the last one, as Paginator.get_page does."""
    page = Paginator(ordered.values_list("pk", flat=True), per_page).get_page(number)
    ids = list(page.object_list)
    found = ordered.model._default_manager.filter(pk__in=ids).select_related(*related).in_bulk()
    page.object_list = [found[pk] for pk in ids if pk in found]
    return page
