"""OCPI 2.2.1 as data: models, envelope, status codes, timestamps. Nothing here does I/O."""
