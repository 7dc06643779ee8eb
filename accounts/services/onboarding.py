"""A registered user applies to an operator to become a merchant or trader (staff decide: payments.services.onboarding).

Only operators that accept applications (`Tenant.accepts_applications`, active)
take them; one open application per person, operator and kind; someone who
already has that profile there is told so. Audited under the operator's tenant.
"""

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction

from accounts.models import OperatorApplication, User
from audit.services import record_event
from core.errors import Conflict, InvalidInput
from tenancy.models import Membership, RoleAssignment, Tenant

Kind = OperatorApplication.Kind
MERCHANT_FIELDS = ("company", "site", "expected_monthly_volume")
TRADER_FIELDS = ("banks", "methods", "currency")


def open_tenants():
    """Operators that take applications now."""
    return Tenant.objects.filter(accepts_applications=True, status=Tenant.Status.ACTIVE).order_by("name")


def applications_of(user: User):
    return OperatorApplication.objects.filter(applicant=user).select_related("tenant").order_by("-created_at", "-id")


def _required(values: dict, names: tuple[str, ...]) -> dict:
    missing = {name: ["This field is required."] for name in names if not str(values.get(name) or "").strip()}
    if missing:
        raise InvalidInput("Fill in every field of the application.", code="invalid_input", fields=missing)
    return {name: str(values[name]).strip() for name in names}


@transaction.atomic
def submit_application(*, applicant: User, tenant: Tenant, kind: str, note: str = "", **values) -> OperatorApplication:
    if kind not in Kind.values:
        raise InvalidInput("Choose merchant or trader.", fields={"kind": ["Choose merchant or trader."]})
    if not (tenant.accepts_applications and tenant.is_active):
        raise InvalidInput("This operator does not take applications.",
                           fields={"tenant": ["This operator does not take applications."]})
    fields = _required(values, MERCHANT_FIELDS if kind == Kind.MERCHANT else TRADER_FIELDS)
    if kind == Kind.MERCHANT:
        try:
            URLValidator(schemes=["http", "https"])(fields["site"])
        except ValidationError:
            raise InvalidInput("Enter the site's address.", fields={"site": ["Enter a valid URL (https://…)."]})
    else:
        fields["currency"] = fields["currency"].upper()
        if not (len(fields["currency"]) == 3 and fields["currency"].isalpha()):
            raise InvalidInput("Enter a currency code.", fields={"currency": ["A three-letter code, e.g. THB."]})
    if (Membership.objects.filter(tenant=tenant, user=applicant).exists()
            and RoleAssignment.objects.filter(tenant=tenant, user=applicant, role__key=kind).exists()):
        raise Conflict(f"You are already a {kind} of {tenant.name}.", code="already_member")
    try:
        with transaction.atomic():
            application = OperatorApplication.objects.create(applicant=applicant, tenant=tenant, kind=kind,
                                                             note=note.strip(), **fields)
    except IntegrityError:
        raise Conflict(f"You already have an open {kind} application to {tenant.name}.", code="already_applied")
    record_event(action="application.submitted", actor=applicant, target=application, tenant=tenant,
                 description=f"{application.get_kind_display()} application to {tenant.name}",
                 details={"kind": kind, **fields})
    return application
