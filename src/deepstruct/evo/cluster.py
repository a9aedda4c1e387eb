"""One-line explanations of a failure to join a Ray cluster (token authentication, an address nobody answers).

Ray 2.60 and later start clusters with token authentication on: every node (``ray start``) and every driver
(``deepstruct evolve --address``) needs the cluster's token, else Ray raises ``AuthenticationError`` or a
``ConnectionError``. :func:`explain` turns those into one line that names the fix; the README's "A multi-node
Ray cluster" section has the whole recipe.
"""

from __future__ import annotations

import os

__all__ = ["explain", "TOKEN_FIX"]

TOKEN_FIX = ("give this process the cluster's token: copy the head node's ~/.ray/auth_token to this machine, or "
             "export RAY_AUTH_TOKEN=<token> (RAY_AUTH_TOKEN_PATH=<file>); on a trusted network you may instead set "
             "RAY_AUTH_MODE=disabled for every `ray start` and every deepstruct process (README: A multi-node Ray "
             "cluster)")


def _is_auth(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return type(exc).__name__ == "AuthenticationError" or ("auth" in text and "token" in text)


def explain(exc: BaseException) -> str | None:
    """The one line for a Ray error of joining a cluster, or ``None`` when ``exc`` is not one."""
    address = os.environ.get("RAY_ADDRESS")
    if _is_auth(exc):
        where = f" at {address}" if address else ""
        return f"the Ray cluster{where} refused this process (token authentication): {TOKEN_FIX}"
    if isinstance(exc, ConnectionError) and "ray" in f"{type(exc).__module__} {exc}".lower():
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        return (f"could not join the Ray cluster ({first}): check the address (`ray status` on the head node) and, "
                f"if the cluster uses token authentication (Ray >= 2.60: the default), {TOKEN_FIX}")
    return None
