"""Plays, steps, when/loop/register/retries, blocks, handlers, serial batches, check mode.

The engine never formats output: it emits `events` to listeners (report/, journal).
"""
