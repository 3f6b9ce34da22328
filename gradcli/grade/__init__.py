"""`gradcli grade`: exercises, untrusted answers, checks per task kind, reports.

exercise.py loads and validates an exercise folder and computes the reference at
the sample points; answer.py parses and builds a student's answer statement by
statement under limits; tasks.py lists each task kind's items and grades them (one
charge per claim, follow-through, every claim checked); notes.py the answer notes;
whatif.py the derivatives the notes and follow-through recompute; report.py the
result objects; formats.py the renderers; runner.py many students; command.py the
click command.
"""
