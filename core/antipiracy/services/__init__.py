"""The product's use cases. Each takes its collaborators (ports, the DoveRunner client) as arguments."""
