"""Staff decide an operator application (accounts.OperatorApplication; submitted by accounts.services.onboarding).

Approving makes the merchant or trader profile — membership and role included —
through payments.services.merchants / traders, in the application's tenant,
with the deciding staff member as actor (so their flag is checked again there:
can_manage_merchants / can_manage_traders). Declining needs a reason. The
applicant gets an email either way, once the decision commits; audited.
"""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.models import OperatorApplication
from accounts.services.registration import send_account_email, site_link
from audit.services import record_event
from payments.errors import ConflictError
from payments.models import FiatCurrency
from payments.permissions import MANAGE_MERCHANTS, MANAGE_TRADERS, has_any_flag
from tenancy.authz import member_tenant_ids
from tenancy.scoping import tenant_context

from . import merchants as merchant_services
from . import traders as trader_services
from .execution import clean_reason

Kind = OperatorApplication.Kind
Status = OperatorApplication.Status


def _flags(application: OperatorApplication) -> tuple[str, ...]:
    return MANAGE_MERCHANTS if application.kind == Kind.MERCHANT else MANAGE_TRADERS


# The longest decision reason kept (OperatorApplication.decision_reason).
REASON_MAX = OperatorApplication._meta.get_field("decision_reason").max_length


def may_decide(user, application: OperatorApplication) -> bool:
    """Staff of the application's operator with the kind's flag (a super admin anywhere)."""
    if not has_any_flag(user, _flags(application)):
        return False
    return bool(user.is_superuser) or application.tenant_id in member_tenant_ids(user)


def _lock(application: OperatorApplication, actor) -> OperatorApplication:
    if not may_decide(actor, application):
        raise PermissionDenied(f"Deciding this application needs {' or '.join(_flags(application))} "
                               "in its operator.")
    locked = (OperatorApplication.objects.select_for_update(of=("self",)).select_related("tenant", "applicant")
              .get(pk=application.pk))
    if locked.status != Status.PENDING:
        raise ConflictError(f"This application is already {locked.get_status_display().lower()}.")
    return locked


def _close(application: OperatorApplication, *, status: str, actor, reason: str) -> None:
    application.status = status
    application.decided_by = actor
    application.decided_at = timezone.now()
    application.decision_reason = reason
    application.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])


def _split_name(full_name: str) -> tuple[str, str]:
    first, _, last = (full_name or "").strip().partition(" ")
    return first[:100], last[:100]


@transaction.atomic
def approve_application(*, application: OperatorApplication, actor, reason: str = "") -> OperatorApplication:
    reason = clean_reason(reason, required=False, max_length=REASON_MAX)
    locked = _lock(application, actor)
    user, tenant = locked.applicant, locked.tenant
    first, last = _split_name(user.full_name)
    with tenant_context(tenant):
        if locked.kind == Kind.MERCHANT:
            profile = merchant_services.create_merchant(tenant=tenant, user=user, first_name=first, last_name=last,
                                                        actor=actor)
        else:
            fiat = FiatCurrency.objects.filter(code=locked.currency).first()
            profile = trader_services.create_trader(tenant=tenant, user=user, first_name=first, last_name=last,
                                                    preferred_fiat_currency=fiat, actor=actor)
    _close(locked, status=Status.APPROVED, actor=actor, reason=reason)
    record_event(action="application.approved", actor=actor, target=locked, tenant=tenant,
                 description=f"{locked} approved: {locked.kind} profile #{profile.pk} for {user.email}",
                 details={"profile": profile.pk, "reason": locked.decision_reason})
    send_account_email(to=user.email, subject=f"{tenant.name}: your {locked.kind} application is approved",
                       template="application_approved",
                       context={"application": locked, "cabinet_url": site_link("cabinet:index")})
    return locked


@transaction.atomic
def decline_application(*, application: OperatorApplication, actor, reason: str) -> OperatorApplication:
    reason = clean_reason(reason, max_length=REASON_MAX)
    locked = _lock(application, actor)
    _close(locked, status=Status.DECLINED, actor=actor, reason=reason)
    record_event(action="application.declined", actor=actor, target=locked, tenant=locked.tenant,
                 description=f"{locked} declined", details={"reason": reason})
    send_account_email(to=locked.applicant.email,
                       subject=f"{locked.tenant.name}: your {locked.kind} application is declined",
                       template="application_declined",
                       context={"application": locked, "apply_url": site_link("accounts:apply")})
    return locked
