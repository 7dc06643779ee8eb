"""Several jobs at the same moment, each in its own thread and database connection (PostgreSQL tests)."""

import threading
from contextlib import contextmanager

from django.db import connections

from tenancy.scoping import tenant_context


def run_in_threads(jobs, *, prepare=None) -> list:
    """Run each job in its own thread (own connection); `prepare()` is entered in each thread first (a tenant
    context, a start barrier). Their results or exceptions, in job order."""
    results: list = [None] * len(jobs)

    def work(index, job):
        try:
            if prepare is None:
                results[index] = job()
            else:
                with prepare():
                    results[index] = job()
        except Exception as exc:  # noqa: BLE001 — the test inspects what each thread met
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    return results


def run_together(tenant, jobs) -> list:
    """Run each job in its own thread (own connection) inside `tenant`, released at once; their results
    or exceptions, in job order."""
    barrier = threading.Barrier(len(jobs))

    @contextmanager
    def in_tenant_at_once():
        with tenant_context(tenant):
            barrier.wait(timeout=10)
            yield

    return run_in_threads(jobs, prepare=in_tenant_at_once)
