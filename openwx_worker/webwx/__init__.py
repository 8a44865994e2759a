"""The web WeChat protocol, client side (web-protocol.md): bytes on the wire, no policy.

``hosts`` (host families, the --wechat-base transport), ``session`` (credentials,
cookies, sync keys, request helpers), ``payloads`` (msgspec Structs), ``errors``
(httpx errors and Ret codes → typed errors), then one module per protocol area:
``login``, ``contacts``, ``sync``, ``send``, ``ops``, ``media``.  Retries, pacing,
states and events are :mod:`openwx_worker.client`'s business.
"""
