"""awssim internals: one module per concern (see docs/emulator.md)."""
