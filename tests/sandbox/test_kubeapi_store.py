"""The store's owner index and snapshots, which cascading deletes and the controller rely on."""

from __future__ import annotations

from typing import Any

from bluegreen_hooks.sandbox.kubeapi.store import Store, clone


def pod(name: str, *owners: str) -> dict[str, Any]:
    """A pod whose ownerReferences name `owners` by uid (the first one controls it)."""
    meta: dict[str, Any] = {"name": name, "namespace": "default", "uid": f"uid-{name}"}
    if owners:
        meta["ownerReferences"] = [
            {"uid": uid, "controller": i == 0} for i, uid in enumerate(owners)
        ]
    return {"metadata": meta}


def names(store: Store, uid: str) -> list[tuple[str, str]]:
    return [(plural, obj["metadata"]["name"]) for plural, obj in store.dependents(uid)]


def test_dependents_follow_writes_and_deletes() -> None:
    store = Store()
    store.put("pods", pod("b", "owner"))
    store.put("pods", pod("a", "owner", "other"))
    store.put("services", pod("svc", "owner"))
    store.put("pods", pod("c"))
    assert names(store, "owner") == [("pods", "a"), ("pods", "b"), ("services", "svc")]
    assert names(store, "other") == [("pods", "a")]

    store.put("pods", pod("a", "other"))  # a replace drops one reference
    store.put("pods", pod("c", "owner"))  # and another adds one
    assert names(store, "owner") == [("pods", "b"), ("pods", "c"), ("services", "svc")]
    store.delete("pods", "default", "b")
    store.delete("services", "default", "svc")
    assert names(store, "owner") == [("pods", "c")]
    assert names(store, "other") == [("pods", "a")]
    assert names(store, "nobody") == []


def test_malformed_owner_references_are_not_indexed() -> None:
    store = Store()
    body = pod("p")
    body["metadata"]["ownerReferences"] = ["not-a-reference", {"name": "no-uid"}]
    store.put("pods", body)
    body["metadata"]["ownerReferences"] = 7
    store.put("pods", body)
    assert store.get("pods", "default", "p") is not None


def test_snapshots_are_stored_objects_and_reads_are_copies() -> None:
    store = Store()
    written = pod("a", "owner")
    returned = store.put("pods", written)
    written["metadata"]["name"] = "changed"
    returned["metadata"]["labels"] = {"changed": "yes"}
    (snapshot,) = store.snapshots("pods", "default")
    assert snapshot is store.snapshot("pods", "default", "a")
    assert snapshot["metadata"]["name"] == "a" and "labels" not in snapshot["metadata"]
    copied = store.get("pods", "default", "a")
    assert copied == snapshot and copied is not snapshot
    assert store.snapshots("pods", "elsewhere") == []


def test_clone_is_a_deep_copy() -> None:
    original: dict[str, Any] = {"a": [{"b": 1}, [2, {"c": None}]], "d": {"e": "f"}}
    copied = clone(original)
    assert copied == original
    copied["a"][0]["b"] = 2
    copied["a"][1][1]["c"] = 3
    copied["d"]["e"] = "g"
    assert original == {"a": [{"b": 1}, [2, {"c": None}]], "d": {"e": "f"}}
