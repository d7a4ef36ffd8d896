"""The nightly job: retrain on fresh data and promote only a model that is no worse.

job runs the stages; options says what a run reads and writes; checks are its gates (sources,
drift, promotion); lock keeps one run at a time; runs records each run; promotion swaps model and
data in one step.
"""
