"""Authorize.Net: Accept.js in the buyer's browser, the XML API through `authorizenet`."""

from __future__ import annotations

from integrations.adapters.authorize_net.adapter import AuthorizeNetAdapter

__all__ = ["AuthorizeNetAdapter"]
