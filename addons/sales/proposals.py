"""sales: proposals (placeholder until its area lands)."""
