"""The collaborative model: torch model, training, the recommender contract, sequences, metrics, baselines, serving."""
