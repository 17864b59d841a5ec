"""Where a member lands after signing in, and the switch between their memberships."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from stakeholders.models import Organization
from stakeholders.selectors import membership_get

from ..access import SESSION_KEY


@login_required
def home(request):
    """The dashboard of the active membership's role; the program team's staff go to the
    back office, where they work."""
    member = request.member
    if not member:
        if request.user.is_staff:
            return redirect("admin:index")
        return render(request, "portal/no_membership.html", status=403)
    if member.organization.kind == Organization.Kind.PROGRAM_TEAM and request.user.is_staff:
        return redirect("admin:index")
    return redirect(f"portal:{member.dashboard}")


@login_required
@require_POST
def switch(request):
    """Act as another of one's memberships (the header's switcher)."""
    raw = request.POST.get("membership_id", "")
    membership = (
        membership_get(user=request.user, membership_id=int(raw)) if raw.isdigit() else None
    )
    if membership is None:
        messages.error(request, "That role is not one of yours.")
        return redirect("portal:home")
    request.session[SESSION_KEY] = membership.pk
    messages.success(
        request,
        f"Now acting as {membership.get_role_display().lower()} of {membership.organization}.",
    )
    return redirect("portal:home")


urlpatterns = [
    path("", home, name="home"),
    path("switch/", switch, name="switch"),
]
