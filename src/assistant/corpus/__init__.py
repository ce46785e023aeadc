"""Stage 0, offline: read the articles of a corpus folder (one module per format), clean them, chunk them, lint them."""
