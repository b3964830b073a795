"""Appeal decisions recorded by the payment provider's back office (placeholder)."""
