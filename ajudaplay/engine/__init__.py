"""Plays, steps, when/loop/register/retries, blocks, handlers, serial batches, check mode.

The engine never formats output: it emits `events` to listeners (report/, journal).
Reading order: `run` (a run: targets, signals, locks released, exit code) ->
`play` (batches, lock, handlers, max_fail) -> `blocks` (lockstep over targets,
block/rescue/always) -> `step` (one task on one target) -> `variables`,
`prepare` (connect + lock), `fanout` (bounded parallelism), `bus` (redaction).
`preflight` is the plan stage: every check before a run (`run`, the listings
and `validate` share it; `argcheck` renders the arguments known before the
run); `options`, `extravars`, `listing`, `selection` serve the CLI. No module-level state: one `state.RunContext` per run.
"""
