"""stepper: step through a tiny transformer's forward and backward pass, every number verified."""

__version__ = "0.1.0"
