"""Reads of the payments domain, one module per area; import from the module.

- `stores`: a store by its Bearer key, across tenants (the store API's first look-up);
- `rates`: the exchange rate an order is priced at;
- `offers`: the methods and banks a currency can be served with (reference data, cached per process);
- `customer`: the whole requisite number for the paying customer, only while they have to pay;
- `ledger`: the ledger's invariants checked, as a list of differences.

Reads of one surface live with it: `payments.api.selectors`, `payments.cabinet.selectors`,
`payments.pay.selectors`; the callback body is `payments.callbacks.bodies`.
"""
