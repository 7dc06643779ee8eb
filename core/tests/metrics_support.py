"""Reading what core.metrics counted, for the tests of each app's metrics."""

from core import metrics


def counted(name: str) -> dict:
    """The values of metric `name` (counters and gauges), by their sorted labels."""
    counters, gauges = metrics.totals()
    found = {}
    for field, value in {**counters, **gauges}.items():
        field_name, labels = metrics.parse_field(field)
        if field_name == name:
            found[tuple(sorted(labels.items()))] = value
    return found
