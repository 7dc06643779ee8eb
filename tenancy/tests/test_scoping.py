"""The Python layer of tenant isolation: the scoped manager, the request's tenant, tasks."""

import threading
import uuid

import pytest
from celery import shared_task
from django import forms
from django.db import connection, models
from django.test import RequestFactory
from django.test.utils import isolate_apps
from django.urls import reverse

from accounts.tests.factories import UserFactory, web_login
from audit.models import AuditLog
from tenancy import services
from tenancy.middleware import SESSION_TENANT_KEY, TenantMiddleware
from tenancy.models import Tenant
from tenancy.scoping import (
    TenantScopedModel,
    TenantScopeError,
    current_tenant_id,
    dangerously_bypass_tenant_scope,
    tenant_context,
)
from tenancy.task_context import TenantTask, enqueue_in_tenant
from tenancy.tests.factories import TenantFactory, make_member, make_super_admin


@pytest.fixture
def note_model(transactional_db):
    """A throwaway tenant-scoped model with its own table."""
    with isolate_apps("tenancy"):
        class Note(TenantScopedModel):
            tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
            text = models.CharField(max_length=50)

            class Meta:
                app_label = "tenancy"
                db_table = "tenancy_test_note"

    with connection.schema_editor() as editor:
        editor.create_model(Note)
    yield Note
    with connection.schema_editor() as editor:
        editor.delete_model(Note)


@pytest.fixture
def two_tenants_notes(note_model):
    a, b = TenantFactory(name="A"), TenantFactory(name="B")
    with tenant_context(a):
        note_model.objects.create(text="a1")
        note_model.objects.create(text="a2")
    with tenant_context(b):
        note_model.objects.create(text="b1")
    return a, b


class TestScopedManager:
    def test_no_tenant_no_rows_but_an_error(self, note_model, two_tenants_notes):
        queryset = note_model.objects.all()  # building is fine …

        with pytest.raises(TenantScopeError):
            list(queryset)  # … running is not
        with pytest.raises(TenantScopeError):
            note_model.objects.count()
        with pytest.raises(TenantScopeError):
            note_model.objects.update(text="x")
        with pytest.raises(TenantScopeError):
            note_model.objects.all().delete()
        with pytest.raises(TenantScopeError):
            note_model(text="orphan").save()

    def test_each_tenant_sees_its_own_rows(self, note_model, two_tenants_notes):
        a, b = two_tenants_notes

        with tenant_context(a):
            assert sorted(note_model.objects.values_list("text", flat=True)) == ["a1", "a2"]
        with tenant_context(b):
            assert list(note_model.objects.values_list("text", flat=True)) == ["b1"]
            assert not note_model.objects.filter(text="a1").exists()

    def test_a_queryset_runs_in_the_tenant_current_when_it_runs(self, note_model, two_tenants_notes):
        a, b = two_tenants_notes
        built_outside = note_model.objects.order_by("text")
        with tenant_context(a):
            built_in_a = note_model.objects.order_by("text")

        with tenant_context(b):
            assert [n.text for n in built_outside.all()] == ["b1"]
            assert [n.text for n in built_in_a.all()] == ["b1"]

    def test_update_and_delete_stay_in_the_tenant(self, note_model, two_tenants_notes):
        a, b = two_tenants_notes

        with tenant_context(a):
            assert note_model.objects.update(text="changed") == 2
            note_model.objects.all().delete()
        with tenant_context(b):
            assert list(note_model.objects.values_list("text", flat=True)) == ["b1"]

    def test_subqueries_are_scoped_too(self, note_model, two_tenants_notes):
        a, _b = two_tenants_notes

        with tenant_context(a):
            tenants = Tenant.objects.filter(pk__in=note_model.objects.values("tenant_id"))
            assert list(tenants.values_list("name", flat=True)) == ["A"]

    def test_bypass_and_unscoped_are_explicit(self, note_model, two_tenants_notes):
        assert note_model.objects.unscoped().count() == 3
        with dangerously_bypass_tenant_scope():
            assert note_model.objects.count() == 3

    def test_a_form_field_made_at_import_time_follows_the_request_tenant(self, note_model, two_tenants_notes):
        a, b = two_tenants_notes

        class NoteChoice(forms.Form):  # a class body runs once, like a module-level admin form
            note = forms.ModelChoiceField(queryset=note_model.objects.all())

        with tenant_context(a):
            assert sorted(str(c[1]) for c in NoteChoice().fields["note"].choices if c[0]) == [
                "Note object (1)", "Note object (2)"]
        with tenant_context(b):
            assert [str(c[1]) for c in NoteChoice().fields["note"].choices if c[0]] == ["Note object (3)"]


def test_contexts_nest_and_restore():
    first, second = uuid.uuid4(), uuid.uuid4()

    with tenant_context(first):
        with tenant_context(second):
            assert current_tenant_id() == second
        assert current_tenant_id() == first
    assert current_tenant_id() is None


def test_a_new_thread_starts_without_a_tenant():
    seen = []
    with tenant_context(uuid.uuid4()):
        thread = threading.Thread(target=lambda: seen.append(current_tenant_id()))
        thread.start()
        thread.join()

    assert seen == [None]


@shared_task(base=TenantTask, name="tenancy.tests.report_tenant")
def report_tenant(marker: str) -> str:
    return f"{marker}:{current_tenant_id()}"


class TestTasks:
    def test_a_task_runs_in_the_tenant_it_was_given(self):
        tenant_id = uuid.uuid4()

        result = report_tenant.apply(args=["x"], kwargs={"tenant_id": str(tenant_id)}).get()

        assert result == f"x:{tenant_id}"
        assert current_tenant_id() is None

    def test_a_task_without_a_tenant_refuses(self):
        with pytest.raises(TenantScopeError):
            report_tenant.apply(args=["x"], throw=True).get()

    @pytest.mark.django_db
    def test_enqueue_in_tenant_sends_the_current_tenant_on_commit(self, django_capture_on_commit_callbacks,
                                                                  monkeypatch):
        sent = []
        monkeypatch.setattr(report_tenant, "apply_async", lambda args, kwargs: sent.append((args, kwargs)))
        tenant_id = uuid.uuid4()

        with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant_id):
            enqueue_in_tenant(report_tenant, "x")
            assert sent == []

        assert sent == [(("x",), {"tenant_id": str(tenant_id)})]

    def test_enqueue_without_a_tenant_refuses(self):
        with pytest.raises(TenantScopeError):
            enqueue_in_tenant(report_tenant, "x")


@pytest.mark.django_db
class TestRequestTenant:
    def run(self, user, session=None):
        request = RequestFactory().get("/")
        request.user = user
        request.session = session if session is not None else {}
        seen = {}

        def view(req):
            seen["tenant"] = current_tenant_id()
            return None

        TenantMiddleware(view)(request)
        return request, seen["tenant"]

    def test_anonymous_requests_have_no_tenant(self):
        from django.contrib.auth.models import AnonymousUser

        request, inside = self.run(AnonymousUser())

        assert request.tenant is None and inside is None

    def test_the_default_membership_is_the_start(self, tenant, other_tenant):
        user = make_member(tenant)
        services.add_membership(tenant=other_tenant, user=user)

        request, inside = self.run(user)

        assert request.tenant == tenant and inside == tenant.pk
        assert request.session[SESSION_TENANT_KEY] == str(tenant.pk)
        assert current_tenant_id() is None  # restored after the request

    def test_the_session_choice_wins_if_allowed(self, tenant, other_tenant):
        user = make_member(tenant)
        services.add_membership(tenant=other_tenant, user=user)

        request, _inside = self.run(user, {SESSION_TENANT_KEY: str(other_tenant.pk)})

        assert request.tenant == other_tenant

    def test_a_forged_session_choice_falls_back(self, tenant, other_tenant):
        user = make_member(tenant)

        request, inside = self.run(user, {SESSION_TENANT_KEY: str(other_tenant.pk)})

        assert request.tenant == tenant and inside == tenant.pk

    def test_a_suspended_tenant_is_never_current(self):
        suspended = TenantFactory(status="suspended")
        user = make_member(suspended)

        request, inside = self.run(user, {SESSION_TENANT_KEY: str(suspended.pk)})

        assert request.tenant is None and inside is None
        assert SESSION_TENANT_KEY not in request.session


@pytest.mark.django_db
class TestPages:
    def test_switching_to_a_member_tenant(self, client, tenant, other_tenant):
        user = make_member(tenant)
        services.add_membership(tenant=other_tenant, user=user)
        web_login(client, user)

        response = client.post(reverse("tenancy:switch"), {"tenant": str(other_tenant.pk), "next": "/tenancy/"})

        assert response.status_code == 302 and response["Location"] == "/tenancy/"
        assert client.session[SESSION_TENANT_KEY] == str(other_tenant.pk)

    def test_switching_to_someone_elses_tenant_is_a_404(self, client, tenant, other_tenant):
        web_login(client, make_member(tenant))

        response = client.post(reverse("tenancy:switch"), {"tenant": str(other_tenant.pk)})

        assert response.status_code == 404
        assert client.session.get(SESSION_TENANT_KEY) in (None, str(tenant.pk))

    def test_switching_ignores_an_offsite_next(self, client, tenant):
        web_login(client, make_member(tenant))

        response = client.post(reverse("tenancy:switch"), {"tenant": str(tenant.pk), "next": "https://evil.test/"})

        assert response["Location"] == reverse("tenancy:list")

    def test_a_super_admin_may_enter_any_tenant_and_it_is_audited(self, client, other_tenant):
        boss = make_super_admin()
        web_login(client, boss)

        response = client.post(reverse("tenancy:switch"), {"tenant": str(other_tenant.pk)})

        assert response.status_code == 302
        assert AuditLog.objects.filter(action="tenant.entered_as_super_admin", actor=boss,
                                       tenant_id=other_tenant.pk).exists()

    def test_the_tenant_page_of_a_stranger_is_a_404(self, client, tenant, other_tenant):
        web_login(client, make_member(tenant, "merchant"))

        assert client.get(reverse("tenancy:detail", args=[other_tenant.pk])).status_code == 404
        assert client.post(reverse("tenancy:make_default", args=[other_tenant.pk])).status_code == 404
        assert client.get(reverse("tenancy:detail", args=[uuid.uuid4()])).status_code == 404

    def test_the_tenant_page_lists_what_one_may_do(self, client, tenant):
        web_login(client, make_member(tenant, "merchant"))

        page = client.get(reverse("tenancy:detail", args=[tenant.pk])).content.decode()

        assert "stores.manage" in page
        assert "orders.manage" not in page
        assert "Members and their roles" not in page  # merchants do not see the member list

    def test_the_tenant_page_checks_every_permission_in_bounded_queries(self, client, tenant,
                                                                          django_assert_max_num_queries):
        manager = make_member(tenant, "manager", "merchant", "trader")
        for n in range(5):
            make_member(tenant, "merchant", email=f"m{n}@example.com")
        web_login(client, manager)
        client.get(reverse("tenancy:detail", args=[tenant.pk]))  # warm the session row

        with django_assert_max_num_queries(16):
            page = client.get(reverse("tenancy:detail", args=[tenant.pk]))

        assert page.status_code == 200
        assert page.content.decode().count("m3@example.com") == 1
        assert "orders.manage" in page.content.decode()

    def test_a_user_changes_their_default(self, client, tenant, other_tenant):
        user = make_member(tenant)
        services.add_membership(tenant=other_tenant, user=user)
        web_login(client, user)

        client.post(reverse("tenancy:make_default", args=[other_tenant.pk]))

        assert user.memberships.get(is_default=True).tenant == other_tenant

    def test_the_navigation_has_the_switcher(self, client, tenant, other_tenant):
        user = make_member(tenant)
        services.add_membership(tenant=other_tenant, user=user)
        web_login(client, user)

        page = client.get(reverse("home")).content.decode()

        assert reverse("tenancy:switch") in page
        assert f'value="{tenant.pk}" selected' in page
        assert other_tenant.name in page

    def test_a_user_without_tenants_gets_no_switcher(self, client):
        web_login(client, UserFactory())

        page = client.get(reverse("home")).content.decode()

        assert reverse("tenancy:switch") not in page
