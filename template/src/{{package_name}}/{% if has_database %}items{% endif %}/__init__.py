"""Items: an example resource stored in the database (model, schemas, queries, routes)."""
