"""Forms of the security pages: MFA set-up/challenge/disable, backup codes, phone verification."""

from django import forms

from accounts.services.otp import PhoneError, normalize_phone

_CODE_ATTRS = {"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True,
               "placeholder": "123456", "pattern": "[0-9 ]{6,7}"}


class TotpCodeForm(forms.Form):
    code = forms.CharField(label="6-digit code from your authenticator app", max_length=7, min_length=6,
                           widget=forms.TextInput(attrs=_CODE_ATTRS))

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split())
        if not (len(code) == 6 and code.isdigit()):
            raise forms.ValidationError("Enter the 6 digits shown in your authenticator app.")
        return code


class MfaChallengeForm(forms.Form):
    code = forms.CharField(label="Authentication code or backup code", max_length=32,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True,
                                                         "autocapitalize": "off", "spellcheck": "false"}))


class MfaDisableForm(forms.Form):
    password = forms.CharField(label="Your password", strip=False, max_length=4096,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    code = forms.CharField(label="Authentication code or backup code", max_length=32,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}))


class BackupCodesRegenerateForm(forms.Form):
    code = forms.CharField(label="6-digit code from your authenticator app", required=False, max_length=7,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))
    password = forms.CharField(label="…or your password", required=False, strip=False, max_length=4096,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))

    def clean(self):
        data = super().clean()
        code = "".join((data.get("code") or "").split())
        if code and not (len(code) == 6 and code.isdigit()):
            self.add_error("code", "Enter the 6 digits shown in your authenticator app.")
        elif not code and not data.get("password"):
            raise forms.ValidationError("Confirm with a code from your authenticator app or with your password.")
        data["code"] = code
        return data


class PhoneForm(forms.Form):
    phone = forms.CharField(label="Mobile number (international format)", max_length=24,
                            widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel",
                                                          "placeholder": "+66812345678"}))

    def clean_phone(self) -> str:
        try:
            return normalize_phone(self.cleaned_data["phone"])
        except PhoneError as exc:
            raise forms.ValidationError(exc.message)


class PhoneCodeForm(forms.Form):
    code = forms.CharField(label="6-digit code from the SMS", max_length=7, min_length=6,
                           widget=forms.TextInput(attrs=_CODE_ATTRS))

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split())
        if not (len(code) == 6 and code.isdigit()):
            raise forms.ValidationError("Enter the 6 digits from the SMS.")
        return code
