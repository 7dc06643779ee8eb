"""The devices page: where the user is logged in (browsers and API clients), and revoking them."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.middleware import SESSION_ROW_KEY
from accounts.services import sessions as session_service


@login_required
def session_list(request):
    current = request.session.get(SESSION_ROW_KEY)
    rows = list(session_service.live_sessions(user=request.user))
    for row in rows:
        row.label = session_service.device_label(row.device_info)
    return render(request, "accounts/sessions.html", {
        "sessions": rows, "current_session_id": str(current or ""),
        "others": sum(1 for row in rows if str(row.pk) != str(current)),
    })


@login_required
@require_POST
def session_revoke(request, session_id):
    row = session_service.revoke_session(user=request.user, session_id=session_id)
    if str(row.pk) == str(request.session.get(SESSION_ROW_KEY)):
        messages.info(request, "This device was logged out.")
    else:
        messages.success(request, f"Logged out: {row.device_info or row.get_kind_display()}.")
    return redirect("accounts:sessions")


@login_required
@require_POST
def sessions_revoke_others(request):
    count = session_service.revoke_other_sessions(user=request.user,
                                                  keep_session_id=request.session.get(SESSION_ROW_KEY))
    messages.success(request, f"Logged out {count} other device{'s' if count != 1 else ''}.")
    return redirect("accounts:sessions")
