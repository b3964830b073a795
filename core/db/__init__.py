"""Merchant database: models, sessions, migrations and demo data."""
