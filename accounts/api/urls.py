"""PLACEHOLDER until its owner writes it."""

urlpatterns: list = []
