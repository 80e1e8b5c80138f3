"""bff_web."""
