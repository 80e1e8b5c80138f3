"""bff_mobile/views."""
