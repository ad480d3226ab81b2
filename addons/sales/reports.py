"""sales: reports (placeholder until its area lands)."""
