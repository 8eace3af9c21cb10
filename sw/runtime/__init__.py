"""Graph execution: imported models (IR + weights) run in float64 or through the integer golden model."""
