"""`gradcli grade`: exercises, untrusted answers, checks per task kind, reports.

exercise.py loads and validates an exercise folder and computes the reference at
the sample points; answer.py parses and builds a student's answer statement by
statement under limits; context.py the answer evaluated at the points; tasks.py
lists each task kind's items and grades them (one charge per claim, every claim
checked); diagnose.py follow-through and the answer notes; notes.py their names and
checks; whatif.py the derivatives they recompute; report.py the
result objects; formats.py the renderers; runner.py many students; command.py the
click command.
"""
