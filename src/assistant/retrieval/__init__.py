"""Stage 3: what retrieval searches for, and the lexical, dense and hybrid retrievers behind one ``retrieve(query, k)``."""
