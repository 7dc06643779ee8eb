"""Writes of trading, one module per area: accounts (keys, credentials, settings, pause), signals (intake),
execution (signal → orders), reconciliation, notifications (outbox), risk (the daily loss brake)."""
