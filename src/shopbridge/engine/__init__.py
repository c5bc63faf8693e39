"""Application services: inbox, command execution, deadlines, reconciliation, the worker loop."""
