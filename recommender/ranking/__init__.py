"""Ranking: the hybrid ranker, query parsing, the price vocabulary, filters, the bridge to the collaborative
model, top-k and diversity, and reasons."""
