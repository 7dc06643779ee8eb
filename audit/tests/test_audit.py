import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from accounts.models import User
from accounts.tests.factories import UserFactory, web_login
from audit.models import AuditLog
from audit.services import REDACTED, field_changes, model_snapshot, record_event
from tenancy.authz.permissions import ADMIN_FLAGS
from tenancy.models import Service
from tenancy.scoping import tenant_context
from tenancy.tests.factories import TenantFactory, make_admin, make_super_admin, make_support

pytestmark = pytest.mark.django_db


class TestRecording:
    def test_secrets_never_reach_the_trail(self):
        entry = record_event(action="x.changed", details={"password": "hunter22", "api_key": "sk_live_1",
                                                          "nested": {"totp_secret": "ABC", "name": "ok"}})

        assert entry.details == {"password": REDACTED, "api_key": REDACTED,
                                 "nested": {"totp_secret": REDACTED, "name": "ok"}}

    def test_field_changes_give_old_and_new_and_hide_secrets(self):
        changes = field_changes({"name": "A", "mfa_secret": "S1", "same": 1},
                                {"name": "B", "mfa_secret": "S2", "same": 1})

        assert changes == {"name": {"old": "A", "new": "B"}, "mfa_secret": REDACTED}

    def test_the_actor_label_and_the_current_tenant_are_kept(self):
        actor = UserFactory(email="actor@example.com")
        tenant = TenantFactory()

        with tenant_context(tenant):
            entry = record_event(action="x.done", actor=actor, target=tenant)

        assert (entry.actor_id, entry.actor_label, entry.tenant_id) == (actor.pk, "actor@example.com", tenant.pk)
        assert (entry.target_entity, entry.target_id) == ("tenants", str(tenant.pk))

    def test_model_snapshot_uses_ids_for_foreign_keys(self):
        tenant = TenantFactory(name="Snap")

        assert model_snapshot(tenant, ("name", "plan")) == {"name": "Snap", "plan": "standard"}

    def test_entries_cannot_be_changed_or_deleted_through_the_model(self):
        entry = record_event(action="x.done")

        with pytest.raises(ValueError):
            entry.save()
        with pytest.raises(ValueError):
            entry.delete()

    def test_deleting_a_user_leaves_their_entries_alone(self):
        user = UserFactory(email="gone@example.com")
        entry = record_event(action="x.done", actor=user)

        User.objects.filter(pk=user.pk).delete()

        kept = AuditLog.objects.get(pk=entry.pk)
        assert (kept.actor_id, kept.actor_label) == (user.pk, "gone@example.com")

    def test_the_request_ip_is_recorded(self, client):
        boss = make_super_admin()
        web_login(client, boss)

        client.post(reverse("admin:tenancy_tenant_add"), {"name": "From IP", "plan": "p", "status": "active"},
                    REMOTE_ADDR="203.0.113.9")

        assert AuditLog.objects.get(action="tenant.created").ip_address == "203.0.113.9"


@pytest.mark.postgres
class TestAppendOnlyOnPostgres:
    def test_update_is_refused(self):
        entry = record_event(action="x.done", description="original")

        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            AuditLog.objects.filter(pk=entry.pk).update(description="rewritten")

        assert AuditLog.objects.get(pk=entry.pk).description == "original"

    def test_delete_is_refused(self):
        entry = record_event(action="x.done")

        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            AuditLog.objects.filter(pk=entry.pk).delete()
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as c:
            c.execute("DELETE FROM audit_logs")

        assert AuditLog.objects.filter(pk=entry.pk).exists()

    def test_the_trigger_is_there(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_logs'::regclass AND NOT tgisinternal")
            assert cursor.fetchall() == [("audit_logs_append_only",)]

    def test_deleting_a_user_does_not_touch_the_trail(self):
        user = UserFactory()
        entry = record_event(action="x.done", actor=user)

        User.objects.filter(pk=user.pk).delete()  # no SET NULL: the trigger would refuse it

        assert AuditLog.objects.get(pk=entry.pk).actor_id == user.pk


class TestAuditAdmin:
    def test_it_is_read_only(self, client):
        boss = make_super_admin()
        web_login(client, boss)
        entry = record_event(action="x.done", actor=boss)

        assert client.get(reverse("admin:audit_auditlog_add")).status_code == 403
        assert client.post(reverse("admin:audit_auditlog_change", args=[entry.pk]),
                           {"action": "forged"}).status_code == 403
        assert client.post(reverse("admin:audit_auditlog_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
        page = client.get(reverse("admin:audit_auditlog_change", args=[entry.pk]))
        assert page.status_code == 200 and 'name="action"' not in page.content.decode()
        assert AuditLog.objects.get(pk=entry.pk).action == "x.done"

    def test_without_full_logs_one_sees_only_ones_own_actions(self, client):
        support = make_support()
        other = make_admin()
        mine = record_event(action="mine.done", actor=support)
        theirs = record_event(action="theirs.done", actor=other)
        web_login(client, support)

        response = client.get(reverse("admin:audit_auditlog_changelist"))
        listed = {entry.action for entry in response.context["cl"].result_list}

        assert "mine.done" in listed and "theirs.done" not in listed
        assert "theirs.done" not in response.content.decode()  # nor in the filters' choices
        assert other.email not in response.content.decode()
        assert client.get(reverse("admin:audit_auditlog_change", args=[theirs.pk])).status_code == 302
        assert client.get(reverse("admin:audit_auditlog_change", args=[mine.pk])).status_code == 200

    def test_full_logs_see_their_tenants_entries_and_filter(self, client):
        tenant = TenantFactory()
        auditor = make_admin(role_key="admin_limited", tenants=[tenant])
        other = make_admin()
        record_event(action="theirs.done", actor=other, target_entity="stores", target_id="7", tenant=tenant)
        record_event(action="else.done", actor=other, tenant=tenant)
        web_login(client, auditor)
        changelist = reverse("admin:audit_auditlog_changelist")

        def actions(**params):
            response = client.get(changelist, params)
            assert response.status_code == 200
            return {entry.action for entry in response.context["cl"].result_list}

        assert {"theirs.done", "else.done"} <= actions()
        assert actions(action="theirs.done") == {"theirs.done"}
        assert actions(actor__id__exact=str(other.pk)) >= {"theirs.done", "else.done"}
        assert actions(actor__id__exact=str(auditor.pk)) == set()
        assert actions(target_entity="stores") == {"theirs.done"}
        assert "else.done" in actions(timestamp__gte="2000-01-01 00:00:00+00:00")
        assert actions(timestamp__lt="2000-01-01 00:00:00+00:00") == set()

    def test_non_staff_never_see_it(self, client):
        web_login(client, UserFactory())

        assert client.get(reverse("admin:audit_auditlog_changelist")).status_code == 302  # to the admin login

    def test_the_list_costs_the_same_for_many_rows(self, client, django_assert_max_num_queries):
        boss = make_super_admin()
        for n in range(60):
            record_event(action=f"bulk.{n % 3}", actor=boss)
        web_login(client, boss)
        client.get(reverse("admin:audit_auditlog_changelist"))

        with django_assert_max_num_queries(14):
            assert client.get(reverse("admin:audit_auditlog_changelist")).status_code == 200


class TestAuditedModelAdmin:
    def test_admin_changes_and_deletes_are_recorded_with_old_and_new(self, client):
        boss = make_super_admin()
        web_login(client, boss)
        service = Service.objects.create(name="extra", description="before")

        client.post(reverse("admin:tenancy_service_change", args=[service.pk]),
                    {"name": "extra", "description": "after", "is_active": "on", "_save": "Save"})
        client.post(reverse("admin:tenancy_service_delete", args=[service.pk]), {"post": "yes"})

        updated = AuditLog.objects.get(action="service.updated")
        assert updated.details["changes"] == {"description": {"old": "before", "new": "after"}}
        assert updated.actor_id == boss.pk and updated.details["via"] == "admin"
        deleted = AuditLog.objects.get(action="service.deleted")
        assert deleted.target_id == str(service.pk) and deleted.details["values"]["name"]["old"] == "extra"

    def test_inline_rows_are_recorded(self, client):
        from tenancy.models import Permission, Role

        boss = make_super_admin()
        web_login(client, boss)
        role = Role.objects.get(key="moderator")
        permission = Permission.objects.get(key="stores.view")

        response = client.post(reverse("admin:tenancy_role_change", args=[role.pk]), {
            "name": role.name, "description": role.description,
            "role_permissions-TOTAL_FORMS": "1", "role_permissions-INITIAL_FORMS": "0",
            "role_permissions-0-permission": str(permission.pk), "_save": "Save"})

        assert response.status_code == 302, response.content
        entry = AuditLog.objects.get(action="rolepermission.created")
        assert entry.details["values"]["permission"]["new"] == str(permission.pk)


def test_staff_flag_edits_in_admin_are_in_the_trail(client):
    boss = make_super_admin()
    target = make_admin(role_key="admin_limited")
    web_login(client, boss)
    profile = target.admin_profile
    data = {"username": "renamed", "role": str(profile.role_id), "_save": "Save",
            **{flag: "on" for flag in ADMIN_FLAGS if flag in {"can_edit_limits", "can_manage_traders"}}}

    response = client.post(reverse("admin:tenancy_adminprofile_change", args=[profile.pk]), data)

    assert response.status_code == 302, response.content
    changes = AuditLog.objects.get(action="staff.admin_updated").details["changes"]
    assert changes["can_manage_traders"] == {"old": False, "new": True}
    assert changes["can_view_full_logs"] == {"old": True, "new": False}
    assert changes["username"]["new"] == "renamed"
