"""`gradcli grade`: exercises, untrusted answers, checks per task kind, reports.

exercise.py loads and validates an exercise folder and computes the reference at
the sample points; answer.py builds a student's answer into a program under
limits; tasks.py holds one checker per task kind; notes.py the answer notes;
report.py the result objects; formats.py the renderers; runner.py many students;
command.py the click command.
"""
