"""Shell and file access to hosts (local or SSH), implemented with pyinfra.

Only this package and targets/compose import pyinfra; it needs gevent's
monkey-patching, which the CLI applies once at start (see cli.py), never on import.
"""
