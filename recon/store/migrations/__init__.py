"""Alembic migrations of the store, shipped inside the package (applied by ``recon.store.Store``)."""
