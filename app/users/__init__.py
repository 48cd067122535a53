"""User accounts: the model, services and the ``flask users`` commands."""
