import pytest

from tenancy.tests.factories import TenantFactory


@pytest.fixture
def tenant(db):
    return TenantFactory(name="Tenant A")


@pytest.fixture
def other_tenant(db):
    return TenantFactory(name="Tenant B")
