"""The shared core: what the student side and the grader both need.

The notebook model, the solution-block markers, the releases and their lookup, integrity, the
graft, the policy rules and the scoring arithmetic. Nothing here imports the student side,
authoring or grading (the import contract in pyproject.toml says so, and `make test` checks it).
"""
