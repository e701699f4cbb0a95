"""Authoring: what course staff run to make and ship an assignment.

`release` (nbgrader's generate_assignment, the release lint), `new` (the scaffold) and `bundle`
(the student bundle). It imports the shared core, never grading.
"""
