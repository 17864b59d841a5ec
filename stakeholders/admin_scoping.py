"""The back office's tenancy, the one choke point every ModelAdmin stands behind (DESIGN.md,
"Security and tenancy"): rows, choices and filters narrow to the staff user's organizations,
as the selectors do for pages. Members of the program team and superusers see everything
(`sees_everything`); `is_staff` alone opens the admin and shows no organization's rows.

Each admin names the paths from its model to the organization(s) a row belongs to; an admin
that names none is the program team's alone. Also here, shared by every back-office page: the
refusal page and the permission an action declares. (Readable tables of JSON: admin_display.)"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django.contrib.admin.utils import NotRelationField, get_fields_from_path, model_format_dict
from django.contrib.auth import get_permission_codename
from django.contrib.auth.models import Permission
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q, QuerySet
from django.template.response import TemplateResponse

from stakeholders.selectors import organization_ids, sees_everything


def request_organization_ids(request) -> list[int]:
    """The organizations the requesting user is a member of, read once per request."""
    cached = getattr(request, "_scoping_organization_ids", None)
    if cached is None:
        cached = organization_ids(user=request.user)
        request._scoping_organization_ids = cached
    return cached


def related_scope(request, model, admin_site, queryset: QuerySet | None = None) -> QuerySet:
    """`queryset` (all of `model`'s rows by default) narrowed as `model`'s own admin narrows
    its rows; a model without a scoped admin is the program team's alone."""
    queryset = model._default_manager.all() if queryset is None else queryset
    if sees_everything(request.user):
        return queryset
    try:
        model_admin = admin_site.get_model_admin(model)
    except NotRegistered:
        return queryset.none()
    if isinstance(model_admin, ScopedAdmin):
        return model_admin.scope_queryset(request, queryset)
    return queryset.none()


def requires(permission: str) -> Callable:
    """A `has_<name>_permission` method for an action that asks for a permission other than
    the admin's own add / change / delete: an action on the admin's model ("change"), or a
    full "app_label.codename" where another model's permission is the right one."""

    def has_permission(self, request, obj=None) -> bool:
        return self.has_model_permission(request, permission)

    has_permission.permission = permission
    return has_permission


def refused(request, model_admin, reason: str) -> TemplateResponse:
    """The back office's 403: what was refused and why, in words."""
    return TemplateResponse(
        request,
        "admin/refused.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": "Not allowed",
            "reason": reason,
            "opts": model_admin.opts,
        },
        status=403,
    )


class ScopedChoicesMixin:
    """Foreign-key and many-to-many choices (selects, autocompletes) offer only the rows the
    user may see, in ModelAdmins and inlines alike."""

    def get_field_queryset(self, db, db_field, request):
        queryset = super().get_field_queryset(db, db_field, request)
        if sees_everything(request.user):
            return queryset
        model = db_field.remote_field.model
        if queryset is None:
            queryset = model._default_manager.using(db).all()
        return related_scope(request, model, self.admin_site, queryset)


class ScopedTabularInline(ScopedChoicesMixin, admin.TabularInline):
    """An inline whose choices are scoped; its rows belong to the (scoped) object above it."""


class ScopedRelatedFilter(admin.RelatedFieldListFilter):
    """A related-field filter that lists only the related rows the user may see."""

    def field_choices(self, field, request, model_admin):
        related = related_scope(request, field.related_model, model_admin.admin_site)
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            related = related.order_by(*ordering)
        return [(obj.pk, str(obj)) for obj in self.choice_queryset(related)]

    def choice_queryset(self, queryset: QuerySet) -> QuerySet:
        """Where a subclass adds the `select_related` its labels need."""
        return queryset


class ScopedAdmin(ScopedChoicesMixin, admin.ModelAdmin):
    """A ModelAdmin that shows a staff user only the rows of their organizations.

    `organization_paths` name the lookups from the model to an Organization ("utility__
    organization", "owner", "pk" for Organization itself); a row matching any is the user's.
    None (the default) makes the admin the program team's alone: others are refused its pages.
    An empty tuple with `scope_queryset` overridden scopes by something else (the user)."""

    organization_paths: tuple[str, ...] | None = None

    # Rows

    def scope_queryset(self, request, queryset: QuerySet) -> QuerySet:
        if sees_everything(request.user):
            return queryset
        if not self.organization_paths:
            return queryset.none()
        organizations = request_organization_ids(request)
        mine = Q()
        for path in self.organization_paths:
            mine |= Q(**{f"{path}__in": organizations})
        return queryset.filter(mine)

    def get_queryset(self, request):
        return self.scope_queryset(request, super().get_queryset(request))

    # Who may open it at all

    def opens_for(self, request) -> bool:
        return self.organization_paths is not None or sees_everything(request.user)

    def has_module_permission(self, request):
        return self.opens_for(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return self.opens_for(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return self.opens_for(request) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.opens_for(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.opens_for(request) and super().has_delete_permission(request, obj)

    def full_permission(self, permission: str) -> str:
        if "." in permission:
            return permission
        return f"{self.opts.app_label}.{get_permission_codename(permission, self.opts)}"

    def has_model_permission(self, request, permission: str) -> bool:
        """The user holds `permission` ("add", "change", or "app_label.codename"), and the
        admin opens for them."""
        return self.opens_for(request) and request.user.has_perm(self.full_permission(permission))

    # Filters

    def get_list_filter(self, request):
        return [self._scoped_filter(item) for item in super().get_list_filter(request)]

    def _scoped_filter(self, item):
        if not isinstance(item, str):
            return item
        try:
            field = get_fields_from_path(self.model, item)[-1]
        except (FieldDoesNotExist, NotRelationField):
            return item
        return (item, ScopedRelatedFilter) if field.is_relation else item

    # Actions

    def changelist_view(self, request, extra_context=None):
        return self._refuse_action(request) or super().changelist_view(request, extra_context)

    def _refuse_action(self, request) -> TemplateResponse | None:
        """A POSTed action the user may not run answers 403 and says why: Django alone would
        drop it silently (it is not even in the user's menu)."""
        name = request.POST.get("action") if request.method == "POST" else None
        if not name or name in self.get_actions(request):
            return None
        action = self.get_action(name)
        if action is None:
            return None
        func, _, description = action
        needed = ", ".join(
            self._permission_name(permission)
            for permission in getattr(func, "allowed_permissions", ())
        )
        reason = f"You may not “{description % model_format_dict(self.opts)}”"
        reason += f": it needs the permission “{needed}”." if needed else "."
        return refused(request, self, reason + " Nothing was changed.")

    def _permission_name(self, permission: str) -> str:
        method = getattr(self, f"has_{permission}_permission", None)
        full = self.full_permission(getattr(method, "permission", permission))
        app_label, codename = full.split(".", 1)
        name = (
            Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            .values_list("name", flat=True)
            .first()
        )
        return name or full
