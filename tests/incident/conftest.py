"""The incident tests reuse the Kubernetes and Compose fixtures (real control plane, real node, real Docker)."""

from tests.compose.conftest import docker_engine, sshd  # noqa: F401 - fixtures
from tests.kubernetes.conftest import cluster, node_cluster  # noqa: F401 - fixtures
