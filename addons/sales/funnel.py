"""sales: funnel (placeholder until its area lands)."""
