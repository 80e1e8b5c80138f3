"""bff_web/views."""
