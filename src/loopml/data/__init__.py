"""Data: sources in, immutable dataset versions, their profiles and schemas, validation, scoping.

- ``io``: reading CSV, Parquet or a SQL source, every failure a clear ``DataError``; ``sql``:
  the SQL source, opened read-only (SQLite ``mode=ro``, PostgreSQL ``READ ONLY``);
- ``versions``: dataset versions (content hash, rows, schema, profile) stored as Parquet;
- ``profile``: the profile data model (per column: counts, sketches, moments), its merge and
  JSON form; ``profiling``: :func:`~loopml.data.profiling.profile_frame`, which computes one
  from a Polars frame in two parallel passes;
- ``schema``: what each column should look like, inferred from a profile;
- ``validate``: a frame checked against a schema, every violation reported;
- ``scope``: a proposed ``loopml.yaml`` for a target column (``loopml init``), with
  ``kinds`` (each column's feature kind, from its values), ``times`` (the time column read into
  dates by the spec's ``time_format``, or refused) and ``naming`` (the project's name).

The sketches and statistics themselves live in :mod:`loopml.stats`. Import each name from its
module.
"""
