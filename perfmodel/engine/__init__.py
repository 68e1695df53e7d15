"""The columnar core: reading and validating observations in DuckDB (see :mod:`perfmodel.engine.validate`)."""
