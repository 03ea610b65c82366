"""The command line: one click command per module, loaded only when invoked."""
