"""Users, roles, district assignments and personal API tokens."""
