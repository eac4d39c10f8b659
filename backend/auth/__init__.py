"""Sign-in, sessions, roles and kiosk device tokens."""
