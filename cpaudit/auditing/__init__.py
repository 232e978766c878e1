"""Audits: embeddings, nearest-neighbour replication search, permutation test, membership inference, quality, policy."""
