"""The .grad language: the grammar and lexer (syntax), and the graph IR a file builds (program)."""
