"""sales: sources (placeholder until its area lands)."""
