"""Pins: canonical fingerprints of what a server shows the model, and the store that keeps them."""
