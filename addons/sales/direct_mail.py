"""sales: direct_mail (placeholder until its area lands)."""
