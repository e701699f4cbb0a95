"""The demo classroom (`make demo`) and the fixture factory the tests and benchmarks share.

Not part of the installed package: it builds sample classes from the course's own solutions.

* `demo.solution`: the solved release (autograder.authoring.solved) run start to end, cached;
* `demo.edits`: edits of a notebook as a student makes them (a TODO body changed, a cell added);
* `demo.students`: the sample classes (A4 and A2: every style of student, hostile ones
  included, each with the outcome the grader must give) and how each student's zip is made;
* `demo.classroom`: the runner, `python -m demo.classroom`.
"""
