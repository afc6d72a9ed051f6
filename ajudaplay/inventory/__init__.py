"""Environments: targets (host, compose, kubernetes), groups, variables and secrets."""
