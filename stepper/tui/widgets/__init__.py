"""One widget per module; import them from their modules (nothing is re-exported, to keep start-up lean)."""
