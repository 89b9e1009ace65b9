"""Text: the sentence encoder, the products' embedding cache and the vector index."""
