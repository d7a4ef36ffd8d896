"""The model on disk: a model directory loaded without pickle, its city index, the registry.

model loads and verifies one version and scores with it; cityindex reads the city columns
serving needs; registry keeps the versions under models/ and the atomic `current` pointer.
"""
