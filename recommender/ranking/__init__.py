"""Ranking: the hybrid ranker, query parsing, filters, the bridge to the collaborative model and reasons."""
