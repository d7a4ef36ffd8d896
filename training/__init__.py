"""Training, in three stages: data (sources to city features), model (fit, evaluate, write the
model directory) and the nightly job that retrains and promotes only a model that is no worse.

training.cli registers the `data`, `train`, `evaluate` and `nightly` commands with `twin`.
"""
