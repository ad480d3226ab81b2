"""sales: contacts (placeholder until its area lands)."""
