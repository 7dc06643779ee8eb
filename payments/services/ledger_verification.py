"""Verify every tenant's ledger (`manage.py verify_ledger`, the periodic `payments.verify_ledger` task and the
restore drill) and keep the result where /metrics shows it (p2p_ledger_verify_*)."""

import logging

from core.health import record_ledger_verification
from payments.selectors.ledger import LedgerReport, verify_tenant_ledger
from tenancy.models import Tenant
from tenancy.services import platform_wide_access

logger = logging.getLogger(__name__)


def verify_ledgers(*, tenants=None, reason: str) -> list[tuple[Tenant, LedgerReport]]:
    """Each tenant's report (every tenant by default); the total of differences is recorded for /metrics
    when every tenant was checked."""
    checked = Tenant.objects.order_by("name") if tenants is None else tenants
    reports = []
    with platform_wide_access(reason=reason):
        for tenant in checked:
            reports.append((tenant, verify_tenant_ledger(tenant.pk)))
    differences = sum(len(report.differences) for _, report in reports)
    if tenants is None:
        record_ledger_verification(differences=differences, tenants=len(reports))
    if differences:
        logger.error("Ledger verification: %s difference(s) in %s tenant(s)", differences,
                     sum(1 for _, report in reports if report.differences))
    else:
        logger.info("Ledger verification: no differences in %s tenant(s)", len(reports))
    return reports
