"""Reporters that listen to engine events: console (rich), JSON Lines, JUnit XML, history.

Import the module you need (`ajudaplay.report.console`, ...): this package imports
nothing heavy, so `ajudaplay validate` stays fast.
"""
