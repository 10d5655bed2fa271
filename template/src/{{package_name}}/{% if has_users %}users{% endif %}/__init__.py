"""Users stored in the database: the OAuth2 password flow, refresh tokens, user management."""
