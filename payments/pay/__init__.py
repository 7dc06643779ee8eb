"""The hosted payment page /pay/<hash_id>: what a store's customer sees and does (no login)."""
