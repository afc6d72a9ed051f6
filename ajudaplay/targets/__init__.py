"""Deployment modes behind one interface: `base.Target`.

One module per mode: `host` (plain hosts), `compose` (Docker Compose via pyinfra),
`kubernetes` (the official client), `fake` (records calls, for engine tests).
Modules are imported lazily by `open_target` so the CLI never pays for a client
it does not use.
"""
