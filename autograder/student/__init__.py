"""The student side: what a student's notebook and the self-check run.

The toolkit (gradient checks, timing, plots), `check`, `submit` and `rescue`. This is the side the
student bundle ships; it imports only the shared core.
"""
