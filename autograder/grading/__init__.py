"""Grading: what turns a class's submissions into grades. Students never get this side.

intake (safe extraction, LMS exports) → integrity and rules (the core) → graft → the hidden-test
engine in a sandboxed worker → score → reports and the gradebook. The platform runners
(Gradescope, PrairieLearn) call the same pipeline.
"""
