"""Backprop assignment kit: student toolkit, release, policy checks and a sandboxed grader."""

__version__ = "0.1.0"
