"""`AuditedModelAdmin`: Django admin saves and deletes leave audit entries.

Use it for any ModelAdmin whose model the trail must cover (users, tenants,
roles, …): each add, change and delete — including inline rows and
many-to-many fields — records who did it, from which IP, and for changes
the fields with their old and new values. Secret fields are redacted by
`audit.services.field_changes` (anything named like password/secret/token/…);
list more in `audit_exclude` to leave them out entirely.

    class UserAdmin(AuditedModelAdmin, BaseUserAdmin):
        audit_exclude = ("last_login",)
"""

from django.contrib import admin

from audit.services import field_changes, model_snapshot, record_event


def _m2m_snapshot(obj, names) -> dict:
    if obj.pk is None:
        return {}
    return {name: sorted(str(pk) for pk in getattr(obj, name).values_list("pk", flat=True)) for name in names}


class AuditedModelAdmin(admin.ModelAdmin):
    audit_exclude: tuple[str, ...] = ()

    def audit_action(self, obj, verb: str) -> str:
        return f"{obj._meta.model_name}.{verb}"

    def _snapshot(self, obj) -> dict:
        return model_snapshot(obj, exclude=self.audit_exclude)

    def _record(self, request, obj, verb: str, details: dict, *, target_id=None) -> None:
        record_event(action=self.audit_action(obj, verb), actor=request.user, target=obj,
                     target_entity=obj._meta.db_table, target_id=target_id or obj.pk,
                     tenant=getattr(obj, "tenant_id", None),
                     description=f"{obj._meta.verbose_name} {verb} in admin: {obj}",
                     details={"via": "admin", **details})

    def save_model(self, request, obj, form, change):
        before = {}
        if change and obj.pk is not None:
            stored = type(obj)._base_manager.filter(pk=obj.pk).first()
            before = self._snapshot(stored) if stored is not None else {}
        super().save_model(request, obj, form, change)
        after = self._snapshot(obj)
        if change:
            changes = field_changes(before, after)
            if changes:
                self._record(request, obj, "updated", {"changes": changes})
        else:
            self._record(request, obj, "created", {"values": field_changes({}, after)})

    def save_related(self, request, form, formsets, change):
        names = [field.name for field in form.instance._meta.many_to_many
                 if field.name in form.cleaned_data and field.name not in self.audit_exclude]
        before = _m2m_snapshot(form.instance, names) if change else dict.fromkeys(names, [])
        super().save_related(request, form, formsets, change)
        changes = field_changes(before, _m2m_snapshot(form.instance, names))
        if changes:
            self._record(request, form.instance, "updated", {"changes": changes})

    def save_formset(self, request, form, formset, change):
        stored = {}
        for inline_form in formset.initial_forms:
            instance = inline_form.instance
            if instance.pk is not None:
                row = type(instance)._base_manager.filter(pk=instance.pk).first()
                if row is not None:
                    stored[instance.pk] = self._snapshot(row)
        deleting = [(f.instance, stored.get(f.instance.pk, {}), f.instance.pk)
                    for f in formset.deleted_forms if f.instance.pk is not None]
        super().save_formset(request, form, formset, change)
        for instance in formset.new_objects:
            self._record(request, instance, "created",
                         {"parent": str(form.instance.pk), "values": field_changes({}, self._snapshot(instance))})
        for instance, _fields in formset.changed_objects:
            changes = field_changes(stored.get(instance.pk, {}), self._snapshot(instance))
            if changes:
                self._record(request, instance, "updated", {"parent": str(form.instance.pk), "changes": changes})
        for instance, before, pk in deleting:
            self._record(request, instance, "deleted",
                         {"parent": str(form.instance.pk), "values": field_changes(before, {})}, target_id=pk)

    def delete_model(self, request, obj):
        self._record(request, obj, "deleted", {"values": field_changes(self._snapshot(obj), {})})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._record(request, obj, "deleted", {"values": field_changes(self._snapshot(obj), {})})
        super().delete_queryset(request, queryset)
