"""Shared infrastructure every app uses: encryption and encrypted fields, domain errors and the API's error
body, database fast paths, per-process caches, the demo seed. No business rules live here."""
