"""P2P payment processing (seed 002)."""
