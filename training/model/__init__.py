"""The model stage: the training set, the LightFM fits, the re-ranker, evaluation, the model.

dataset turns data/processed/ into matrices; splits hides partnerships; fit trains LightFM;
rerank fits stage one's and stage two's re-rankers; holdout, evaluate and policy measure them;
artifact writes the model directory; train runs the stage end to end.
"""
