"""Load YAML (keeping line/column marks) -> validate against the JSON Schema -> typed model."""
