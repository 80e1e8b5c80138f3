"""bff_mobile."""
