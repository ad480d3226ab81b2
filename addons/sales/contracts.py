"""sales: contracts (placeholder until its area lands)."""
