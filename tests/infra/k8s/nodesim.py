"""A KWOK-like fake node: there is no kubelet or scheduler, so this binds pods and reports their status like one would."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import socket
import threading
from typing import Any, Callable, Iterator

from kubernetes import client, config
from kubernetes.client.rest import ApiException

log = logging.getLogger("ajudaplay.tests.k8s.nodesim")
Obj = dict[str, Any]


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def set_field(path: str, value: Any) -> list[Obj]:
    """A JSON patch setting one field; a list body is sent as JSON patch by every client version (>=28)."""
    return [{"op": "add", "path": path, "value": value}]


def api_client_for(kubeconfig: str | Any) -> client.ApiClient:
    """An ApiClient from a kubeconfig path (or pass an ApiClient through)."""
    if isinstance(kubeconfig, client.ApiClient):
        return kubeconfig
    return config.new_client_from_config(config_file=str(kubeconfig))


def _lines(resp: Any) -> Iterator[bytes]:
    buf = b""
    for chunk in resp.stream(amt=None, decode_content=False):
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                yield line
    if buf.strip():
        yield buf


class WatchLoop:
    """List-then-watch loop over raw JSON (dicts), relisting after each watch window or on 410 Gone."""

    def __init__(self, list_fn: Callable[..., Any], handle: Callable[[str, Obj], None],
                 stop: threading.Event, *, window_seconds: int = 30) -> None:
        self.list_fn, self.handle, self.stop, self.window = list_fn, handle, stop, window_seconds
        self._resp: Any = None

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                data = json.loads(self.list_fn(_preload_content=False).data)
                for item in data.get("items", []):
                    self._safe_handle("SYNC", item)
                self._watch(data["metadata"]["resourceVersion"])
            except Exception as exc:  # noqa: BLE001 - keep the simulator alive, relist
                if not self.stop.is_set():
                    log.warning("watch error (%s); relisting", exc)
                    self.stop.wait(1.0)

    def _watch(self, rv: str) -> None:
        self._resp = self.list_fn(watch=True, resource_version=rv, timeout_seconds=self.window,
                                  allow_watch_bookmarks=True, _preload_content=False,
                                  _request_timeout=(10, self.window + 15))
        try:
            for line in _lines(self._resp):
                if self.stop.is_set():
                    return
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object", {})
                if kind == "ERROR":
                    return  # typically 410 Gone: relist
                if kind != "BOOKMARK":
                    self._safe_handle(kind, obj)
        finally:
            self._resp.release_conn()
            self._resp = None

    def _safe_handle(self, kind: str, obj: Obj) -> None:
        try:
            self.handle(kind, obj)
        except ApiException as exc:
            if exc.status not in (404, 409):
                log.warning("handler API error on %s: %s %s %s", obj.get("metadata", {}).get("name"), exc.status,
                            exc.reason, (exc.body or "")[-300:])
        except Exception:  # noqa: BLE001
            log.exception("handler failed")

    def interrupt(self) -> None:
        """Unblock a watch read so stop() is prompt."""
        resp = self._resp
        if resp is None:
            return
        sock = getattr(getattr(resp, "_connection", None), "sock", None)  # urllib3 1.26 and 2.x
        try:
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
            else:
                (getattr(resp, "shutdown", None) or resp.close)()
        except Exception:  # noqa: BLE001
            pass


class NodeSimulator:
    """One fake Ready node that binds every unscheduled pod to itself and runs it (status only)."""

    def __init__(self, kubeconfig: str | Any, name: str = "sim-node-0", *,
                 never_ready_images: set[str] | None = None, crash_images: set[str] | None = None,
                 pull_error_images: set[str] | None = None, succeed_images: set[str] | None = None,
                 ready_delay: float = 0.0, capacity: dict[str, str] | None = None,
                 lease_seconds: int = 40, delete_node_on_stop: bool = True) -> None:
        self.api = api_client_for(kubeconfig)
        self.core = client.CoreV1Api(self.api)
        self.coord = client.CoordinationV1Api(self.api)
        self.name = name
        # mutable at runtime: tests may add images while the simulator runs
        self.never_ready_images = set(never_ready_images or ())
        self.crash_images = set(crash_images or ())
        self.pull_error_images = set(pull_error_images or ())
        self.succeed_images = set(succeed_images or ())
        self.ready_delay = ready_delay
        self.capacity = capacity or {"cpu": "32", "memory": "256Gi", "pods": "250", "ephemeral-storage": "200Gi"}
        self.lease_seconds = lease_seconds
        self.delete_node_on_stop = delete_node_on_stop
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._watch = WatchLoop(self.core.list_pod_for_all_namespaces, self._on_pod, self._stop)

    # lifecycle ---------------------------------------------------------------
    def __enter__(self) -> "NodeSimulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> "NodeSimulator":
        self._register_node()
        self._renew_lease()
        for target, tname in ((self._heartbeat_loop, "heartbeat"), (self._watch.run, "pods")):
            t = threading.Thread(target=target, name=f"nodesim-{self.name}-{tname}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._watch.interrupt()
        for t in self._threads:
            t.join(timeout=15)
        self._threads.clear()
        if self.delete_node_on_stop:
            try:
                self.core.delete_node(self.name, _preload_content=False)
            except ApiException:
                pass

    # node + lease --------------------------------------------------------------
    def _node_status(self) -> Obj:
        t = now_iso()

        def cond(kind: str, status: str, reason: str, msg: str) -> Obj:
            return {"type": kind, "status": status, "reason": reason, "message": msg,
                    "lastHeartbeatTime": t, "lastTransitionTime": self._started_at}
        return {
            "capacity": self.capacity, "allocatable": self.capacity,
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID"),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status (simulated)"),
            ],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": self.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"kubeletVersion": "v1.20.2", "kubeProxyVersion": "v1.20.2", "operatingSystem": "linux",
                         "architecture": "amd64", "containerRuntimeVersion": "containerd://1.4.0",
                         "osImage": "ajudaplay node simulator", "kernelVersion": "5.10.0", "machineID": self.name,
                         "systemUUID": self.name, "bootID": self._started_at},
        }

    def _register_node(self) -> None:
        self._started_at = now_iso()
        body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.name, "labels": {
            "kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "node.ajudaplay.test/simulated": "true"}}, "spec": {}}
        try:
            self.core.create_node(body, _preload_content=False)
        except ApiException as exc:
            if exc.status != 409:
                raise
        self._patch_node_status()

    def _patch_node_status(self) -> None:
        self.core.patch_node_status(self.name, set_field("/status", self._node_status()), _preload_content=False)

    def _renew_lease(self) -> None:
        spec = {"holderIdentity": self.name, "leaseDurationSeconds": self.lease_seconds, "renewTime": now_micro()}
        try:
            self.coord.patch_namespaced_lease(self.name, "kube-node-lease", set_field("/spec", spec),
                                              _preload_content=False)
        except ApiException as exc:
            if exc.status != 404:
                raise
            node_uid = json.loads(self.core.read_node(self.name, _preload_content=False).data)["metadata"]["uid"]
            self.coord.create_namespaced_lease("kube-node-lease", {
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "ownerReferences": [
                    {"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": node_uid}]},
                "spec": spec}, _preload_content=False)

    def _heartbeat_loop(self) -> None:
        beats = 0
        while not self._stop.wait(self.lease_seconds / 4):
            beats += 1
            try:
                self._renew_lease()
                if beats % 2 == 0:
                    self._patch_node_status()
            except Exception as exc:  # noqa: BLE001
                log.warning("node heartbeat failed: %s", exc)

    # pods ----------------------------------------------------------------------
    def _on_pod(self, kind: str, pod: Obj) -> None:
        if kind == "DELETED":
            return
        meta, spec = pod["metadata"], pod["spec"]
        node = spec.get("nodeName")
        if meta.get("deletionTimestamp"):
            if node == self.name:
                self.core.delete_namespaced_pod(meta["name"], meta["namespace"], body={
                    "gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}}, _preload_content=False)
            return
        if not node:
            if spec.get("schedulerName", "default-scheduler") == "default-scheduler" and \
                    pod.get("status", {}).get("phase", "Pending") == "Pending" and self._selects_me(spec):
                self.core.create_namespaced_pod_binding(meta["name"], meta["namespace"], {
                    "apiVersion": "v1", "kind": "Binding",
                    "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"]},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": self.name}}, _preload_content=False)
            return
        if node != self.name or pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return
        desired = self._desired_status(pod)
        if _projection(desired) != _projection(pod.get("status", {})):
            self.core.patch_namespaced_pod_status(meta["name"], meta["namespace"], set_field("/status", desired),
                                                  _preload_content=False)

    def _selects_me(self, spec: Obj) -> bool:
        """A pod whose nodeSelector names other labels (a real node's pod, tests/infra/k8s/node.py) is not ours."""
        labels = {"kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                  "node.ajudaplay.test/simulated": "true"}
        return all(labels.get(k) == v for k, v in (spec.get("nodeSelector") or {}).items())

    def _recheck(self, namespace: str, name: str) -> None:
        if self._stop.is_set():
            return
        try:
            self._on_pod("MODIFIED", json.loads(self.core.read_namespaced_pod(name, namespace,
                                                                              _preload_content=False).data))
        except ApiException:
            pass

    def _container_status(self, c: Obj, prev: Obj, uid: str, t: str, restart_policy: str) -> Obj:
        img = c["image"]
        digest = hashlib.sha256(img.encode()).hexdigest()
        st: Obj = {"name": c["name"], "image": img, "imageID": f"docker-pullable://{img.split(':')[0]}@sha256:{digest}",
                   "restartCount": prev.get("restartCount", 0) if prev.get("image") == img else 0,
                   "containerID": "containerd://" + hashlib.sha256(f"{uid}/{c['name']}/{img}".encode()).hexdigest()}
        started_at = prev.get("state", {}).get("running", {}).get("startedAt") if prev.get("image") == img else None
        if img in self.pull_error_images:
            st.update(ready=False, started=False, state={"waiting": {
                "reason": "ImagePullBackOff", "message": f'Back-off pulling image "{img}"'}})
            st.pop("containerID")
            st["imageID"] = ""
            return st
        if img in self.crash_images and restart_policy == "Never":
            st.update(ready=False, started=False, state={"terminated": {
                "exitCode": 1, "reason": "Error", "startedAt": started_at or t, "finishedAt": t}})
            return st
        if img in self.crash_images:
            st.update(ready=False, started=False, restartCount=max(st["restartCount"], 1),
                      state={"waiting": {"reason": "CrashLoopBackOff",
                                         "message": f"back-off restarting failed container {c['name']}"}},
                      lastState={"terminated": {"exitCode": 1, "reason": "Error", "startedAt": t, "finishedAt": t}})
            return st
        if img in self.succeed_images:
            st.update(ready=False, started=False, state={"terminated": {
                "exitCode": 0, "reason": "Completed", "startedAt": started_at or t, "finishedAt": t}})
            return st
        started_at = started_at or t
        ready = img not in self.never_ready_images
        if ready and self.ready_delay > 0:
            age = (dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(started_at.replace("Z", "+00:00")))
            ready = age.total_seconds() >= self.ready_delay
        st.update(ready=ready, started=True, state={"running": {"startedAt": started_at}})
        return st

    def _desired_status(self, pod: Obj) -> Obj:
        meta, spec, old = pod["metadata"], pod["spec"], pod.get("status", {})
        t = now_iso()
        prev = {s["name"]: s for s in old.get("containerStatuses", []) or []}
        statuses = [self._container_status(c, prev.get(c["name"], {}), meta["uid"], t,
                                            spec.get("restartPolicy", "Always"))
                    for c in spec["containers"]]
        done = all("terminated" in s["state"] for s in statuses) and spec.get("restartPolicy") != "Always"
        failed = done and any(s["state"]["terminated"]["exitCode"] != 0 for s in statuses)
        ready = all(s["ready"] for s in statuses)
        if self.ready_delay > 0 and any(s.get("started") and not s["ready"] and s["image"] not in
                                        self.never_ready_images for s in statuses):
            timer = threading.Timer(self.ready_delay, self._recheck, (meta["namespace"], meta["name"]))
            timer.daemon = True
            timer.start()
        old_conds = {c["type"]: c for c in old.get("conditions", []) or []}

        def cond(kind: str, ok: bool, reason: str | None = None) -> Obj:
            status = "True" if ok else "False"
            prev_c = old_conds.get(kind, {})
            c: Obj = {"type": kind, "status": status, "lastProbeTime": None,
                      "lastTransitionTime": prev_c.get("lastTransitionTime") if prev_c.get("status") == status else t}
            if not ok and reason:
                not_ready = [s["name"] for s in statuses if not s["ready"]]
                c.update(reason=reason, message=f"containers with unready status: [{' '.join(not_ready)}]")
            return c
        init = [{"name": c["name"], "image": c["image"], "ready": True, "restartCount": 0,
                 "imageID": f"docker-pullable://{c['image']}", "state": {"terminated": {
                     "exitCode": 0, "reason": "Completed", "startedAt": t, "finishedAt": t}}}
                for c in spec.get("initContainers", []) or []]
        return {
            "phase": ("Failed" if failed else "Succeeded") if done else "Running",
            "qosClass": old.get("qosClass") or "BestEffort",
            "hostIP": "127.0.0.1", "startTime": old.get("startTime") or t,
            "conditions": [cond("Initialized", True), cond("Ready", ready, "ContainersNotReady"),
                           cond("ContainersReady", ready, "ContainersNotReady"), cond("PodScheduled", True)],
            "containerStatuses": statuses, "initContainerStatuses": init or None,
        }


def _projection(status: Obj) -> Any:
    """What must match for the pod status to count as already reported."""
    return (status.get("phase"),
            tuple((s.get("name"), s.get("image"), s.get("ready"), tuple(sorted((s.get("state") or {}).keys())),
                   (s.get("state") or {}).get("waiting", {}).get("reason"))
                  for s in status.get("containerStatuses") or []),
            tuple(sorted((c.get("type"), c.get("status")) for c in status.get("conditions") or [])))
