"""Profile changes: the name, and a new login email that takes effect only once verified.

An email change is asked with the current password (a stolen session alone must not
move the account to another mailbox). The new address gets a link; until it is
followed the old address stays the login email. An address that belongs to another
account gets a notice instead of a link, and the page answers the same.
"""

from django.db import transaction

from accounts.models import User
from accounts.selectors import user_by_email
from accounts.services.passwords import check_current_password
from accounts.services.registration import (
    issue_email_verification,
    send_account_email,
    site_link,
    supersede_open_verifications,
)
from audit.services import field_changes, record_event


def update_profile(*, user: User, full_name: str) -> dict:
    """Save the editable profile fields; returns what changed (empty when nothing did)."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        changes = field_changes({"full_name": locked.full_name}, {"full_name": full_name.strip()})
        if not changes:
            return {}
        locked.full_name = full_name.strip()
        locked.save(update_fields=["full_name", "updated_at"])
        record_event(action="user.profile_updated", actor=locked, target=locked, description="Profile updated.",
                     details=changes)
    user.full_name = locked.full_name
    return changes


def request_email_change(*, user: User, new_email: str, current_password: str, ip: str | None) -> None:
    """Mail a verification link to `new_email`; the login email changes when it is followed.

    Raises CurrentPasswordError for a wrong current password (nothing sent). The
    caller has already refused an address equal to the current one.
    """
    check_current_password(user=user, password=current_password, ip=ip)
    new_email = User.objects.normalize_email(new_email.strip())
    owner = user_by_email(new_email)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        supersede_open_verifications(locked)
        if owner is None:
            issue_email_verification(user=locked, email=new_email, template="email_change_verify")
        elif owner.pk != locked.pk:
            send_account_email(
                to=owner.email,
                subject="Someone tried to use your email address",
                template="email_change_in_use",
                context={"user": owner, "reset_link": site_link("accounts:password_reset")},
            )
        send_account_email(
            to=locked.email,
            subject="A change of your login email was requested",
            template="email_change_notice",
            context={"user": locked, "new_email": new_email, "reset_link": site_link("accounts:password_reset")},
        )
        record_event(action="user.email_change_requested", actor=locked, target=locked,
                     description="Change of login email requested; waiting for the new address to be verified.",
                     details={"email": locked.email, "new_email": new_email, "address_in_use": owner is not None})
