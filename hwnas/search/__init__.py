"""The search: objectives, pymoo operators, strategies and the runner."""
