"""Plays, steps, when/loop/register/retries, blocks, handlers, serial batches, check mode.

A run is `parse -> validate -> plan -> execute -> report`: playbook/ and
inventory/ parse, validation.py and the schemas validate, `plan` expands the
playbook against the inventory into one Plan (targets, `serial` batches, the
task tree of `plan_walk`, --tags/--start-at-step verdicts, inventory vars
rendered once), checked by `preflight` (templates) and `argcheck` (arguments
known before the run); `run`, `--check`, the listings (`listing`) and
`validate` all consume that Plan. The engine never formats output: it emits
`events` to listeners (report/, journal).
Reading order: `run` (a run: targets, signals, locks released, exit code) ->
`play` (the Plan's batches, lock, handlers, max_fail) -> `blocks` (the Plan's
task tree in lockstep over targets, block/rescue/always) -> `step` (one task on
one target) -> `variables`, `prepare` (connect + lock), `fanout` (bounded
parallelism), `bus` (redaction). `options`, `extravars`, `selection` serve the
CLI. No module-level state: one `state.RunContext` per run.
"""
