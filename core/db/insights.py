"""Reporting views over the stored tables (placeholder)."""
