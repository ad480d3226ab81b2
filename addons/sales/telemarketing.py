"""sales: telemarketing (placeholder until its area lands)."""
