"""Static files of the staff pages (served at /static)."""
