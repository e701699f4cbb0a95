"""Grading on the platforms courses already run: Gradescope and PrairieLearn.

Both exports pack the same things (the kit, the course's solutions/<A>/ and assignments/<A>/,
the digits data) and both runners grade one submission with the same core as `autograder grade`
(`autograder.grading.platforms.core.grade_submission`: intake, integrity and rules, graft, the sandboxed
hidden tests, scoring), then write the platform's results.json. docs/platforms.md says how to
upload them.
"""
