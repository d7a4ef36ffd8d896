"""Training: ingest, resolve, build features, fit, evaluate, and the nightly job."""
