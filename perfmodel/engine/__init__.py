"""The columnar core: reading and validating observations in DuckDB (:mod:`perfmodel.engine.validate`), and the
clean rows kept there for an evaluation, which asks its questions in SQL (:mod:`perfmodel.engine.source`)."""
