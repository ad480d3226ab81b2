"""sales: settings_pages (placeholder until its area lands)."""
