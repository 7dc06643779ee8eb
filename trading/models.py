"""Signal and copy trading (seeds 000, 001)."""
