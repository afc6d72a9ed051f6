"""ajudaplay: operational procedures as YAML playbooks, for Kubernetes and Docker Compose.

The tree reads as the pipeline: playbook/ and inventory/ parse and validate,
engine/ plans and executes, actions/ are written once against targets/, and
report/ plus journal.py listen to the engine's events.
"""

__version__ = "0.1.0"
