from django.urls import path

from .views import index, merchant, trader

app_name = "cabinet"

urlpatterns = [
    path("", index, name="index"),
    # trader
    path("trader/", trader.dashboard, name="trader_dashboard"),
    path("trader/in-work/", trader.set_in_work, name="trader_in_work"),
    path("trader/orders/active/", trader.active_orders, name="trader_active_orders"),
    path("trader/orders/", trader.history, name="trader_history"),
    path("trader/orders/<str:hash_id>/", trader.order_detail, name="trader_order"),
    path("trader/orders/<str:hash_id>/reveal/", trader.order_reveal, name="trader_order_reveal"),
    path("trader/orders/<str:hash_id>/confirm/", trader.order_confirm, name="trader_order_confirm"),
    path("trader/orders/<str:hash_id>/dispute/", trader.order_dispute, name="trader_order_dispute"),
    path("trader/orders/<str:hash_id>/appeal/", trader.order_appeal, name="trader_order_appeal"),
    path("trader/orders/<str:hash_id>/receipt/<str:kind>/", trader.order_receipt, name="trader_order_receipt"),
    path("trader/appeals/", trader.appeals, name="trader_appeals"),
    path("trader/transfers/", trader.transfers_page, name="trader_transfers"),
    path("trader/balances/", trader.balances, name="trader_balances"),
    path("trader/requisites/", trader.requisites, name="trader_requisites"),
    path("trader/requisites/new/", trader.requisite_new, name="trader_requisite_new"),
    path("trader/requisites/<int:pk>/", trader.requisite_detail, name="trader_requisite"),
    path("trader/requisites/<int:pk>/switches/", trader.requisite_switches, name="trader_requisite_switches"),
    path("trader/requisites/<int:pk>/pause/", trader.requisite_pause, name="trader_requisite_pause"),
    # merchant
    path("merchant/", merchant.dashboard, name="merchant_dashboard"),
    path("merchant/stores/new/", merchant.store_new, name="merchant_store_new"),
    path("merchant/stores/<int:pk>/", merchant.store_detail, name="merchant_store"),
    path("merchant/stores/<int:pk>/settings/", merchant.store_settings, name="merchant_store_settings"),
    path("merchant/stores/<int:pk>/rotate-keys/", merchant.store_rotate_keys, name="merchant_store_rotate_keys"),
    path("merchant/stores/<int:pk>/rotate-secret/", merchant.store_rotate_secret,
         name="merchant_store_rotate_secret"),
    path("merchant/orders/", merchant.orders, name="merchant_orders"),
    path("merchant/orders/export.csv", merchant.orders_export, name="merchant_orders_export"),
    path("merchant/orders/<str:hash_id>/", merchant.order_detail, name="merchant_order"),
    path("merchant/orders/<str:hash_id>/appeal/", merchant.order_appeal, name="merchant_order_appeal"),
    path("merchant/orders/<str:hash_id>/receipt/<str:kind>/", merchant.order_receipt,
         name="merchant_order_receipt"),
    path("merchant/balances/", merchant.balances, name="merchant_balances"),
    path("merchant/withdrawals/", merchant.withdrawals, name="merchant_withdrawals"),
    path("merchant/callbacks/", merchant.callback_list, name="merchant_callbacks"),
    path("merchant/callbacks/<uuid:event_id>/", merchant.callback_detail, name="merchant_callback"),
    path("merchant/callbacks/<uuid:event_id>/resend/", merchant.callback_resend, name="merchant_callback_resend"),
    path("merchant/appeals/", merchant.appeals, name="merchant_appeals"),
]
