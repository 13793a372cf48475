"""Whether this session may open files on the server's disk by path (the Data page's "Open a file or folder").

A path typed into the page is read by the server: on a shared server it would let any visitor read the
server's files. So it is allowed only when the app runs for one person on their own machine:

- the setting ``PARITYLAB_LOCAL_PATHS`` (environment) decides when it is set: ``1`` allows, ``0`` forbids;
- otherwise it is allowed only when the server listens on this machine alone (``server.address`` a loopback
  address, as ``.streamlit/config.toml`` sets it), the browser connected from this machine, the address the
  browser asked for names this machine, and no proxy forwarded the request (a proxy would make a remote
  visitor look local).
"""

from __future__ import annotations

import ipaddress
import os

import streamlit as st

__all__ = ["LOCAL_PATHS_SETTING", "local_paths_allowed"]

LOCAL_PATHS_SETTING = "PARITYLAB_LOCAL_PATHS"
ALLOW, FORBID = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
LOCAL_NAMES = ("localhost",)
# Set by reverse proxies: the request came from elsewhere, whatever the connection's address says.
PROXY_HEADERS = ("X-Forwarded-For", "X-Forwarded-Host", "Forwarded", "X-Real-Ip")


def local_paths_allowed() -> bool:
    """Whether the Data page may offer to open a file or folder on this machine by its path."""
    setting = os.environ.get(LOCAL_PATHS_SETTING, "").strip().lower()
    if setting in ALLOW:
        return True
    if setting in FORBID:
        return False
    if not is_loopback(st.get_option("server.address")):
        return False
    client = st.context.ip_address  # None when the browser connected from this machine (or in tests)
    if client is not None and not is_loopback(client):
        return False
    headers = st.context.headers
    if any(headers.get(name) for name in PROXY_HEADERS):
        return False
    host = headers.get("Host")
    return host is None or is_loopback(host_name(host))


def host_name(host: str) -> str:
    """The name in a Host header, without its port (``[::1]:8501`` → ``::1``)."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback(address: str | None) -> bool:
    """Whether ``address`` (a name or an IP address) names this machine only."""
    if not address:
        return False  # unset: Streamlit listens on every interface
    if address.lower() in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
