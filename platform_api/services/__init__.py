"""The logic behind the routes: authorisation, validation, CR writes; one module per resource."""
