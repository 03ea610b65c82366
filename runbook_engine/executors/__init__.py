"""Executors: the built-in ones and the protocol plugins implement (see `base`)."""
