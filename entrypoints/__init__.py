"""The entrypoints: the `jejak` command line (and, next, the HTTP API and the dashboard).

They sit above both sides: they parse a request, call the write side (``workflow``) or the read side
(``projections``), and map the result or the domain error to an exit code or a status. Neither side imports
them; ``bootstrap`` wires the two sides together.
"""
