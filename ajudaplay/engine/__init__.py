"""Plays, steps, when/loop/register/retries, blocks, handlers, serial batches, check mode.

The engine never formats output: it emits `events` to listeners (report/, journal).
Reading order: `run` (a run: targets, signals, locks released, exit code) ->
`play` (batches, lock, handlers, max_fail) -> `blocks` (lockstep over targets,
block/rescue/always) -> `step` (one task on one target) -> `variables`,
`prepare` (connect + lock), `fanout` (bounded parallelism), `bus` (redaction).
`preflight` checks everything before a run; `options`, `extravars`, `listing`,
`selection` serve the CLI. No module-level state: one `state.RunContext` per run.
"""
