from django.urls import path

from accounts.views import login, mfa, onboarding, passwords, phone, profile, registration, sessions

app_name = "accounts"

urlpatterns = [
    path("register/", registration.register, name="register"),
    path("verify-email/<str:token>/", registration.verify_email, name="verify_email"),
    path("verify-email/", registration.resend_verification, name="resend_verification"),
    path("login/", login.login_view, name="login"),
    path("logout/", login.logout_view, name="logout"),
    path("password/reset/", passwords.password_reset_request, name="password_reset"),
    path("password/reset/<str:token>/", passwords.password_reset_confirm, name="password_reset_confirm"),
    path("password/change/", passwords.password_change, name="password_change"),
    path("profile/", profile.profile, name="profile"),
    path("apply/", onboarding.apply, name="apply"),
    path("profile/phone/", phone.phone_add, name="phone"),
    path("profile/phone/verify/", phone.phone_verify, name="phone_verify"),
    path("security/", mfa.security, name="security"),
    path("security/mfa/setup/", mfa.mfa_setup, name="mfa_setup"),
    path("security/mfa/disable/", mfa.mfa_disable, name="mfa_disable"),
    path("security/backup-codes/", mfa.backup_codes, name="backup_codes"),
    path("login/mfa/", mfa.mfa_challenge, name="mfa_challenge"),
    path("sessions/", sessions.session_list, name="sessions"),
    path("sessions/<uuid:session_id>/revoke/", sessions.session_revoke, name="session_revoke"),
    path("sessions/revoke-others/", sessions.sessions_revoke_others, name="sessions_revoke_others"),
]
