"""Stage 4: the Answerer protocol, the extractive composition, LLM answerers (lazy), and the grounding check."""
