"""A course around gradcli: `init` (a course repository), `bundle` (a Gradescope autograder),
`examples` (the shipped lecture examples)."""
