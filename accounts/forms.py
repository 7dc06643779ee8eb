"""Forms of the sign-up, login, password and profile pages. They only check input;
the services in accounts.services decide and write."""

from django import forms
from django.contrib.auth.password_validation import password_validators_help_text_html, validate_password
from django.core.exceptions import ValidationError

from accounts.models import User


def _email_field(label: str = "Email") -> forms.EmailField:
    return forms.EmailField(label=label, max_length=254,
                            widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))


def _new_password_fields() -> tuple[forms.CharField, forms.CharField]:
    first = forms.CharField(label="New password", strip=False, help_text=password_validators_help_text_html(),
                            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    second = forms.CharField(label="New password again", strip=False,
                             widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    return first, second


class NewPasswordMixin:
    """Two matching new-password fields checked against the password validators for `user`."""

    def clean_new_password(self, user: User) -> None:
        first = self.cleaned_data.get("new_password1")
        second = self.cleaned_data.get("new_password2")
        if not first or not second:
            return
        if first != second:
            self.add_error("new_password2", "The two passwords do not match.")
            return
        try:
            validate_password(first, user)
        except ValidationError as exc:
            self.add_error("new_password1", exc)


class RegistrationForm(NewPasswordMixin, forms.Form):
    email = _email_field()
    full_name = forms.CharField(label="Full name", max_length=150,
                                widget=forms.TextInput(attrs={"autocomplete": "name"}))
    new_password1, new_password2 = _new_password_fields()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].label = "Password"
        self.fields["new_password2"].label = "Password again"

    def clean_full_name(self) -> str:
        name = self.cleaned_data["full_name"].strip()
        if not name:
            raise ValidationError("Enter your name.")
        return name

    def clean(self):
        cleaned = super().clean()
        # The similarity validator compares the password with these attributes.
        self.clean_new_password(User(email=cleaned.get("email") or "", full_name=cleaned.get("full_name") or ""))
        return cleaned


class LoginForm(forms.Form):
    email = _email_field()
    password = forms.CharField(label="Password", strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    next = forms.CharField(required=False, widget=forms.HiddenInput)


class EmailForm(forms.Form):
    """The address to send a verification or reset link to."""

    email = _email_field()


class SetPasswordForm(NewPasswordMixin, forms.Form):
    """The new password on a reset link's page."""

    new_password1, new_password2 = _new_password_fields()

    def __init__(self, user: User, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        self.clean_new_password(self.user)
        return cleaned


class PasswordChangeForm(SetPasswordForm):
    current_password = forms.CharField(label="Current password", strip=False,
                                       widget=forms.PasswordInput(attrs={"autocomplete": "current-password",
                                                                         "autofocus": True}))
    field_order = ["current_password", "new_password1", "new_password2"]

    def clean(self):
        cleaned = super().clean()
        current, new = cleaned.get("current_password"), cleaned.get("new_password1")
        if current and new and current == new and "new_password1" not in self.errors:
            self.add_error("new_password1", "The new password must differ from the current one.")
        return cleaned


class ProfileForm(forms.Form):
    full_name = forms.CharField(label="Full name", max_length=150,
                                widget=forms.TextInput(attrs={"autocomplete": "name"}))

    def clean_full_name(self) -> str:
        name = self.cleaned_data["full_name"].strip()
        if not name:
            raise ValidationError("Enter your name.")
        return name


class EmailChangeForm(forms.Form):
    new_email = forms.EmailField(label="New email", max_length=254,
                                 widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    current_password = forms.CharField(label="Current password", strip=False,
                                       widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))

    def __init__(self, user: User, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_new_email(self) -> str:
        email = self.cleaned_data["new_email"].strip()
        if email.lower() == self.user.email.lower():
            raise ValidationError("This is already your login email.")
        return email
