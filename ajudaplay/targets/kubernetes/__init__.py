"""The Kubernetes deployment mode: `KubernetesTarget` and the modules behind it.

    target.py        the Target interface, delegating per concern
    api.py           connection (kubeconfig/context/in-cluster) and raw JSON requests, retries
    apierrors.py     API/transport failures -> ajudaplay errors, with the API's own message
    services.py      service name -> Deployment/container/HPA/ConfigMap/Secret/Certificate names
    objects.py       reading a service's Deployment, ReplicaSets, pods, container
    revisions.py     kubectl's revision logic (history, rollout undo), pure
    rollout.py       kubectl rollout status, pure + its watch
    watching.py      watch one object until a predicate holds
    rollouts.py      deploy, rollback, restart, history
    scaling.py       scale subresource and HPA bounds
    configdata.py    ConfigMap / Secret from files and env files
    certificates.py  cert-manager renewal (cmctl renew) and TLS Secrets
    observe.py       status and logs
    lease.py         the coordination.k8s.io/v1 Lease lock

Only this package imports `kubernetes`, and only inside functions.
"""

from ajudaplay.targets.kubernetes.target import KubernetesTarget

__all__ = ["KubernetesTarget"]
