"""The worker's Openwx HTTP API: ``/openwx/*`` of ``openwx-api.zh.md``, as an ASGI app.

``create_app(worker)`` returns the app; the runtime serves it with hypercorn on the
worker's port. The worker object gives ``.client``, ``.config``, ``.events`` and
``.state``. Modules: ``app`` (routing, edges, errors), ``wire`` (parameters in,
responses out, CORS, JSONP), ``params`` / ``replies`` (one msgspec Struct per
request and reply shape), ``info``, ``send``, ``groups``, ``contact_ops``,
``event_api``, ``control`` (the handlers), ``openapi`` (``/openapi.json``).

Requests
--------
GET, POST and HEAD on every endpoint (a POST with ``_method=X`` in its query string
is routed as X, as Mojolicious does: GET and HEAD change nothing, others get 405).
Parameters from the query string plus an
urlencoded or multipart form body, or (addition) a JSON object body; a multipart
file part is media to send (addition), and a plain ``media_data`` field keeps its raw
bytes (Mojo::Weixin). Unknown parameters are ignored; a repeated key keeps its last
value. Optional access token (config ``access_token``, required when listening off
loopback): ``Authorization: Bearer TOKEN``, the ``access_token`` parameter or
``X-Auth-Token``. ``/openapi.json`` (OpenAPI 3.1, no token needed) lists every endpoint,
parameter and reply, generated from the Structs of ``params`` and ``replies``.

Differences from Mojo::Weixin, on purpose (openwx-reference.md H): an unknown path is
a 404 JSON answer (was 403 ``api not found`` text); no request ever hangs (send with
neither content nor media, consult without content, a failed media download: JSON
errors); consult waits only for the friend asked and honours its timeout; text plus
media is one answer for both; set_group_displayname with an empty name is a 400
answer (it killed the worker); check_event never answers ``[null]`` and loses
nothing to a client that left. Sends answer the document's ``msg_id`` and
``status:"发送成功"`` as well as Mojo::Weixin's ``id`` (``MsgID:receiver``).
CORS: every answer has ``Access-Control-Allow-Origin: *``; ``OPTIONS`` on any path is
the preflight. JSONP: ``datatype=jsonp`` wraps the JSON in ``callback(...)`` (an
invalid callback name is replaced by ``jsoncallback<epoch>``; Content-Type
``application/javascript``).

While the client is not ``running`` every endpoint except get_client_info,
stop_client and check_event answers at once with code 300 and the state (Mojo::Weixin
left such requests hanging, reference B).

Reply codes
-----------
Errors are JSON ``{"code": <non-zero>, "status": "<readable>", ...}`` with HTTP 200
unless noted. Mojo::Weixin's codes keep their meaning; 300 and up are additions.

====  ===========  ==============================================================
code  HTTP         meaning (status text)
====  ===========  ==============================================================
0     200          success (``success``, ``发送成功``, ``request already in
                   execution`` (async), ``request already executed`` (@all),
                   ``revoke success``); consult's ``reply timeout`` keeps 0 too
100   200          ``object not found``, ``group not found``, ``friend id X not
                   found``, ``member id X not found``
101   200          ``can not be yourself``, ``already a friend`` (make_friend)
200   200          ``friend id empty``, ``member id empty``
201   200          ``failure: <WeChat's reason>``: WeChat refused the operation
                   (``ret`` carries WeChat's Ret when there is one); revoke_message
                   ``revoke failure`` with ``reason`` (Mojo::Weixin answered code 0:
                   the status text is kept, the code now tells the truth)
-1    200          a send failed without a WeChat Ret (``发送失败: <reason>``);
                   revoke ``msg id not found``; accept_friend_request ``failure``
-5    200          ``TTL失效`` (a queued send expired)
-6    401 / 403    ``access token missing`` / ``access token wrong``
300   200          ``client not running (state <state>)``; ``state`` field added
400   200          ``invalid parameter <name>: ...``, a required parameter missing,
                   neither content nor media given, an unreadable body
404   404 / 405    ``api not found: <path>``, method not allowed
410   200          media refused: a local media_path outside the allowed folders,
                   a URL scheme other than http(s)
411   200          media unavailable: file missing, download failed / too slow /
                   too large, avatar not available
413   413          request body too large
500   500          internal error (a bug: logged with its traceback)
502   200          WeChat unreachable (no usable answer, timeout)
any   200          on a send: WeChat's own ``Ret`` (e.g. 1, 1101, 1205) with
                   ``发送失败: <ErrMsg>``
====  ===========  ==============================================================
"""

from .app import ApiApp, create_app

__all__ = ["ApiApp", "create_app"]
