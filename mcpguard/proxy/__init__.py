"""The guard between client and server: a sans-IO pipeline of small steps, and the shim that runs it."""
