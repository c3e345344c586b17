"""The webhook receiver (``quant webhooks serve``): vendors call it, it checks who is calling.

``POST /twilio/sms``
    Twilio's incoming-message webhook (form fields ``From``, ``Body``, ``MessageSid``...). The
    ``X-Twilio-Signature`` header must be Twilio's HMAC-SHA1 of the public URL and the sorted form
    fields under the account's auth token (twilio's ``RequestValidator``); anything else gets 403
    and changes nothing. A valid reply is recorded (:func:`quantlib.notify.conversations.record_reply`)
    and answered with TwiML.
``GET /health``
    ``{"status": "ok"}``.

Twilio signs the URL it called, which behind a proxy is not the one this server sees: set
``QUANT_WEBHOOK_PUBLIC_URL`` (e.g. ``https://hooks.example.com``) to the public root.
``TWILIO_AUTH_TOKEN`` comes from the environment and is never logged or echoed.
"""

import os
import urllib.parse
from collections.abc import Mapping
from html import escape

# At module level, not inside the factory: FastAPI reads the handler's annotations to know that
# ``request`` is the Request (a name it cannot resolve would become a required query parameter).
from fastapi import Request

__all__ = ["create_webhook_app"]


def create_webhook_app(store=None, env: Mapping[str, str] | None = None):
    """The FastAPI app; ``store`` is the operational store (default :func:`open_ops_store`)."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, Response
    from twilio.request_validator import RequestValidator

    from quantlib.notify.conversations import record_reply

    env = os.environ if env is None else env
    app = FastAPI(title="Quant webhooks", docs_url=None, redoc_url=None, openapi_url=None)

    def ops():
        if store is not None:
            return store
        from quantlib.data.opstore import open_ops_store

        return open_ops_store()

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.post("/twilio/sms")
    async def twilio_sms(request: Request):
        token = env.get("TWILIO_AUTH_TOKEN")
        if not token:
            return JSONResponse({"detail": "TWILIO_AUTH_TOKEN is not set: cannot check Twilio's signature"}, 503)
        form = dict(urllib.parse.parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
        public = (env.get("QUANT_WEBHOOK_PUBLIC_URL") or "").rstrip("/")
        url = public + request.url.path + (f"?{request.url.query}" if request.url.query else "") if public \
            else str(request.url)
        if not RequestValidator(token).validate(url, form, request.headers.get("X-Twilio-Signature", "")):
            return JSONResponse({"detail": "bad or missing X-Twilio-Signature"}, 403)
        if not form.get("From") or "MessageSid" not in form:
            return JSONResponse({"detail": "From and MessageSid are required"}, 400)
        answer = record_reply(ops(), form["From"], form.get("Body", ""), form["MessageSid"])
        return Response(f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>{escape(answer)}"
                        "</Message></Response>", media_type="application/xml")

    return app
