"""Dense premise retrieval (ReProver's retriever): a byte-level T5 encoder and its ranker."""
