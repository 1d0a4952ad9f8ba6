"""Continuous replication of the SQLite database to S3 with Litestream (no replication code
of our own beyond wiring): the config written from the app's settings, the runner that makes
the app Litestream's child, the status monitor, durable acknowledgements, and restore.
"""
