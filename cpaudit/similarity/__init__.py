"""How alike images are: the pixel embedding (Pearson correlation as an inner product) and the nearest-neighbour
search over any embedding. Below auditing/ and sampling/, which both use them (the audit's replication search,
the rejection defence), so that neither imports the other for it."""
