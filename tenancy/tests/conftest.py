import pytest

from payments.tests.factories import make_reference_data
from tenancy.models import Tenant
from tenancy.scoping import tenant_context
from tenancy.tests.factories import TenantFactory


@pytest.fixture
def tenant(db):
    return TenantFactory(name="Tenant A")


@pytest.fixture
def other_tenant(db):
    return TenantFactory(name="Tenant B")


@pytest.fixture
def two_tenants(db):
    """Two operators with their reference data (the transaction-pooling tests)."""
    tenants = [Tenant.objects.create(name="Operator A"), Tenant.objects.create(name="Operator B")]
    for tenant in tenants:
        with tenant_context(tenant):
            make_reference_data()
    return tenants
