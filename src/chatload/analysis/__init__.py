"""Reports from a run's files: HTML with plots, capacity, comparisons."""
