"""The collaborative model: torch model, training, the recommender contract and its reasons, sequences,
metrics, baselines, serving."""
