"""The command-line interface: one small module per command, registered in :mod:`app`."""
