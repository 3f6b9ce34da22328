"""gradcli: a command-line gradient checker and exercise grader."""

__version__ = "0.1.0"
