"""SQLAlchemy connect args for the SQLite metadata DB (``AWSDR_DB=sqlite make run``, the fallback;
``make run`` runs on an embedded PostgreSQL by default).

SQLite has one writer; Python's default busy timeout is 5 s, short enough that a CLI command such
as ``airflow backfill create`` fails with "database is locked" while the scheduler writes on a
loaded machine. ``scripts/airflow_env.sh`` points ``[database] sql_alchemy_connect_args`` here
only when the metadata DB is SQLite.
"""

CONNECT_ARGS = {"timeout": 30}
