"""One target's raw JSON access to the Kubernetes API: connect, request, watch, stream text.

Built on the official client's configuration loading (kubeconfig, contexts,
in-cluster service account, token refresh) and its REST transport, but speaks
plain dicts: templates are compared and patched as JSON, exactly as the API
server sends them, and no per-call model deserialisation slows a rollout
watch down. Errors leave this module only as `KubeApiError` /
`TargetUnreachable` (see apierrors.py); idempotent calls are retried on
429/5xx and transport failures, a few times, like client-go does.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ajudaplay.errors import TargetError
from ajudaplay.targets.kubernetes.apierrors import KubeApiError, from_response, unreachable

JSON = dict[str, Any]

PATCH_TYPES = {
    "strategic": "application/strategic-merge-patch+json",
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
}
RETRY_DELAYS = (0.2, 0.6, 1.5)
IN_CLUSTER_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


@dataclass(frozen=True)
class ConnectionSettings:
    """The `kubernetes:` mapping of an inventory target, with defaults applied."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    in_cluster: bool = False
    request_timeout: float = 30.0  # per API call (read timeout); watches add their own span
    lock_name: str = "ajudaplay-lock"

    @classmethod
    def from_mapping(cls, connection: dict[str, Any]) -> ConnectionSettings:
        """Reads the inventory's mapping; unknown keys are the schema's business, not ours."""
        return cls(
            kubeconfig=_opt_str(connection.get("kubeconfig")),
            context=_opt_str(connection.get("context")),
            namespace=_opt_str(connection.get("namespace")),
            in_cluster=bool(connection.get("in_cluster", False)),
            request_timeout=float(connection.get("request_timeout", 30.0)),
            lock_name=str(connection.get("lock_name") or "ajudaplay-lock"),
        )


def _opt_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def connect(settings: ConnectionSettings, target: str) -> Kube:
    """Loads credentials (kubeconfig context or in-cluster) without any network request."""
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.config.config_exception import ConfigException

    configuration = k8s_client.Configuration()
    configuration.retries = 0  # urllib3 must not retry behind our back: Kube._send decides, deadline-aware
    namespace = settings.namespace
    try:
        if settings.in_cluster:
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            if namespace is None and os.path.exists(IN_CLUSTER_NAMESPACE_FILE):
                with open(IN_CLUSTER_NAMESPACE_FILE, encoding="utf-8") as handle:
                    namespace = handle.read().strip() or None
        else:
            path = settings.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
            path = os.pathsep.join(os.path.expanduser(p) for p in path.split(os.pathsep) if p)
            contexts, current = k8s_config.list_kube_config_contexts(path)  # type: ignore[no-untyped-call]
            chosen = current
            if settings.context is not None:
                matching = [c for c in contexts if c.get("name") == settings.context]
                if not matching:
                    names = ", ".join(sorted(str(c.get("name")) for c in contexts)) or "none"
                    raise TargetError(
                        f"target {target!r}: kubeconfig {path} has no context {settings.context!r}; "
                        f"it defines: {names}"
                    )
                chosen = matching[0]
            if namespace is None and isinstance(chosen, dict):
                namespace = (chosen.get("context") or {}).get("namespace")
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=path, context=settings.context, client_configuration=configuration, persist_config=False
            )
    except ConfigException as exc:
        where = "in-cluster configuration" if settings.in_cluster else "kubeconfig"
        raise TargetError(
            f"target {target!r}: cannot load the {where}: {exc}\n"
            "    hint: set kubernetes.kubeconfig/context in the inventory, or $KUBECONFIG"
        ) from exc
    except OSError as exc:
        raise TargetError(f"target {target!r}: cannot read the kubeconfig: {exc}") from exc
    api_client = k8s_client.ApiClient(configuration)
    return Kube(api_client, namespace or "default", target, settings.request_timeout)


class Kube:
    """Requests against one API server for one target; paths are relative to the server root."""

    def __init__(self, api_client: Any, namespace: str, target: str, request_timeout: float) -> None:
        self.api_client = api_client
        self.namespace = namespace
        self.target = target
        self.request_timeout = request_timeout
        self.server = str(api_client.configuration.host)

    def close(self) -> None:
        """Drops pooled connections; safe to call twice."""
        pool = getattr(getattr(self.api_client, "rest_client", None), "pool_manager", None)
        if pool is not None:
            pool.clear()

    # paths -----------------------------------------------------------------
    def ns_path(self, group_version: str, resource: str, name: str | None = None, sub: str | None = None) -> str:
        """`/apis/apps/v1/namespaces/NS/deployments/NAME/scale` and friends ("v1" means the core group)."""
        base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
        path = f"{base}/namespaces/{quote(self.namespace, safe='')}/{resource}"
        if name is not None:
            path += f"/{quote(name, safe='')}"
        if sub is not None:
            path += f"/{sub}"
        return path

    # requests ----------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        patch: str | None = None,
        dry_run: bool = False,
        retry: bool | None = None,
        what: str = "",
    ) -> JSON:
        """One API call returning the decoded JSON; retried when idempotent (GET/PUT/PATCH/DELETE)."""
        response = self._send(method, path, query=query, body=body, patch=patch, dry_run=dry_run, retry=retry, what=what)
        data = response.read()
        try:
            decoded = json.loads(data) if data else {}
        except ValueError as exc:
            raise TargetError(f"{what or path}: the API server sent invalid JSON") from exc
        return decoded if isinstance(decoded, dict) else {"items": decoded}

    def get(self, path: str, *, query: dict[str, Any] | None = None, what: str = "") -> JSON:
        return self.request("GET", path, query=query, what=what)

    def get_or_none(self, path: str, *, what: str = "") -> JSON | None:
        """GET that returns None on 404 instead of raising."""
        try:
            return self.get(path, what=what)
        except KubeApiError as exc:
            if exc.not_found:
                return None
            raise

    def text(self, path: str, *, query: dict[str, Any] | None = None, what: str = "") -> str:
        """A text endpoint (pod logs)."""
        response = self._send("GET", path, query=query, what=what)
        return bytes(response.read() or b"").decode("utf-8", "replace")

    def open_stream(self, path: str, *, query: dict[str, Any], read_timeout: float, what: str = "") -> Any:
        """An open streaming response (watch), not retried: the watcher decides, deadline-aware. Close it with close_stream."""
        return self._send("GET", path, query=query, what=what, timeout=read_timeout, retry=False).response

    @staticmethod
    def close_stream(raw: Any) -> None:
        try:
            raw.close()
            raw.release_conn()
        except Exception:  # noqa: BLE001 - closing a dead socket must not mask the real error
            pass

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        patch: str | None = None,
        dry_run: bool = False,
        retry: bool | None = None,
        what: str = "",
        timeout: float | None = None,
    ) -> Any:
        import urllib3

        params: list[tuple[str, Any]] = [(k, v) for k, v in (query or {}).items() if v is not None]
        if dry_run:
            params.append(("dryRun", "All"))
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = PATCH_TYPES[patch] if patch else "application/json"
        _, url, headers, body_out, _ = self.api_client.param_serialize(
            method, path, query_params=params or None, header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        idempotent = method != "POST" if retry is None else retry
        delays = RETRY_DELAYS if idempotent else ()
        read_timeout = timeout if timeout is not None else self.request_timeout
        attempt = 0
        while True:
            try:
                response = self.api_client.rest_client.request(
                    method, url, headers=dict(headers), body=body_out, _request_timeout=(min(10.0, read_timeout), read_timeout)
                )
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if attempt < len(delays):
                    time.sleep(delays[attempt])
                    attempt += 1
                    continue
                raise unreachable(self.target, self.server, exc) from exc
            except Exception as exc:  # ApiException(status=0) for TLS failures
                if getattr(exc, "status", None) == 0:
                    raise unreachable(self.target, self.server, exc) from exc
                raise
            if 200 <= response.status < 300:
                return response
            error = from_response(response.status, response.read() or b"", str(response.reason or ""), what or f"{method} {path}")
            if error.retryable and attempt < len(delays):
                time.sleep(_retry_after(response) or delays[attempt])
                attempt += 1
                continue
            raise error


def _retry_after(response: Any) -> float | None:
    value = response.headers.get("Retry-After") if response.headers else None
    try:
        return min(float(value), 5.0) if value else None
    except ValueError:
        return None
