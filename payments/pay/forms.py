"""Forms of the hosted payment page; the files are checked again by the services (payments.services.receipts)."""

from django import forms

from payments.services.execution import REASON_MAX

FILE_ACCEPT = "image/jpeg,image/png,image/webp,application/pdf"


class MarkPaidForm(forms.Form):
    receipt = forms.FileField(required=False, label="Receipt (optional)",
                              help_text="A photo or screenshot of the transfer, or a PDF.",
                              widget=forms.ClearableFileInput(attrs={"accept": FILE_ACCEPT}))


class CustomerAppealForm(forms.Form):
    reason = forms.CharField(max_length=REASON_MAX, label="What went wrong?",
                             widget=forms.Textarea(attrs={"rows": 3}))
    evidence = forms.FileField(required=False, label="Receipt or screenshot (optional)",
                               widget=forms.ClearableFileInput(attrs={"accept": FILE_ACCEPT}))


def add_service_errors(form: forms.Form, exc) -> None:
    """Put a PaymentsError's field messages on the form's fields, the rest on the form."""
    placed = False
    for name, messages in (exc.fields or {}).items():
        target = name if name in form.fields else None
        for message in messages:
            form.add_error(target, message)
            placed = True
    if not placed:
        form.add_error(None, exc.message)
