import django_filters

from payments.models import IncomingOrder, OrderType, StoreStatus
from payments.models.orders import store_status_condition


class OrderFilter(django_filters.FilterSet):
    client_id = django_filters.CharFilter(field_name="client_id", max_length=128,
                                          help_text="Your reference, as sent at creation.")
    status = django_filters.ChoiceFilter(choices=StoreStatus.choices, method="filter_status",
                                         help_text="The lifecycle `status` of the orders shown.")
    intake_status = django_filters.ChoiceFilter(field_name="status", choices=IncomingOrder.Status.choices,
                                                help_text="The `intake_status` of the orders shown.")
    type = django_filters.ChoiceFilter(field_name="order_type", choices=OrderType.choices)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte",
                                                     help_text="ISO 8601, e.g. 2026-01-31T00:00:00Z (inclusive).")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt",
                                                      help_text="ISO 8601 (exclusive).")

    class Meta:
        model = IncomingOrder
        fields = ["client_id", "status", "intake_status", "type", "created_after", "created_before"]

    def filter_status(self, queryset, name, value):
        return queryset.filter(store_status_condition(value))
