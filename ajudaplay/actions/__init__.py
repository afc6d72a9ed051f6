"""Mode-agnostic actions, each with its own argument schema (schemas/actions/NAME.json)."""
