"""The webhook receiver (``quant webhooks serve``): vendors call it, it checks who is calling.

``POST /twilio/sms``
    Twilio's incoming-message webhook (form fields ``From``, ``Body``, ``MessageSid``...). The
    ``X-Twilio-Signature`` header must be Twilio's HMAC-SHA1 of the public URL and the sorted form
    fields under the account's auth token (twilio's ``RequestValidator``); anything else gets 403
    and changes nothing. A valid reply is recorded (:func:`quantlib.notify.conversations.record_reply`)
    and answered with TwiML.
``POST /quickbooks/webhook``
    QuickBooks Online's change notifications. The ``intuit-signature`` header must be the base64
    HMAC-SHA256 of the body under the app's verifier token (``QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN``);
    anything else gets 401 and changes nothing.
``POST /xero/webhook``
    Xero's change notifications and its "intent to receive" check: 200 with no body for a body
    whose ``x-xero-signature`` is its base64 HMAC-SHA256 under the webhook key
    (``XERO_WEBHOOK_KEY``), 401 otherwise.
``POST /salesforce/outbound``
    Salesforce outbound messages (a workflow rule's or flow's SOAP ``notifications``). They carry
    no signature, so, as Salesforce documents, the caller is checked by what it sends and how it
    connects: the message's ``OrganizationId`` must be the org's (``SALESFORCE_ORG_ID``, 15 or 18
    characters) and, when ``SALESFORCE_OUTBOUND_SECRET`` is set, the endpoint URL configured in
    Salesforce must carry it as ``?key=...`` (compared in constant time); TLS client certificates
    (Salesforce's client certificate) and an allow-list of Salesforce's IP ranges belong in the
    reverse proxy. Anything else gets a SOAP fault (401; 400 for a body not in the WSDL's shape)
    and changes nothing; a verified message is answered with ``notificationsResponse`` /
    ``<Ack>true</Ack>`` (any other answer makes Salesforce send it again).
``GET /health``
    ``{"status": "ok"}``.

A verified accounting notification is recorded in the lake (``<lake>/sync/events.jsonl``) before it
is answered, and the connector's sync of the objects it names runs after the answer, from the
change's time (:mod:`quantlib.connectors.events`); the lake is ``lake`` or ``$QUANT_LAKE``.

Twilio signs the URL it called, which behind a proxy is not the one this server sees: set
``QUANT_WEBHOOK_PUBLIC_URL`` (e.g. ``https://hooks.example.com``) to the public root.
``TWILIO_AUTH_TOKEN``, the accounting webhook secrets and ``SALESFORCE_OUTBOUND_SECRET`` come from the
environment and are never logged or echoed (``quant webhooks serve`` logs warnings only, no request
lines, so a secret in a URL is not written either).
"""

import hmac
import json
import os
import urllib.parse
from collections.abc import Mapping
from html import escape

# At module level, not inside the factory: FastAPI reads the handler's annotations to know that
# ``request`` is the Request (a name it cannot resolve would become a required query parameter).
from fastapi import BackgroundTasks, Request

__all__ = ["create_webhook_app"]


def create_webhook_app(store=None, env: Mapping[str, str] | None = None, lake=None):
    """The FastAPI app; ``store`` is the operational store (default :func:`open_ops_store`), ``lake``
    the lake accounting notifications are recorded and synced into (default :func:`resolve_lake`)."""
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

    def lake_root():
        from quantlib.config import resolve_lake

        return lake if lake is not None else resolve_lake(environ=env)

    def accounting(source: str, secret_name: str, header: str, parse):
        from quantlib.connectors.events import NotificationError, record_events, sync_events, verify_signature

        async def receive(request: Request, background: BackgroundTasks):
            secret = env.get(secret_name)
            if not secret:
                return JSONResponse({"detail": f"{secret_name} is not set: cannot check {source}'s signature"}, 503)
            body = await request.body()
            if not verify_signature(body, request.headers.get(header), secret):
                return Response(status_code=401)
            try:
                events = parse(json.loads(body))
            except NotificationError as exc:
                return JSONResponse({"detail": str(exc)}, 400)
            except ValueError:  # json.JSONDecodeError
                return JSONResponse({"detail": "the body is not JSON"}, 400)
            if events:
                where = lake_root()
                record_events(where, events)
                background.add_task(sync_events, where, source, events, env)
            return Response(status_code=200)

        return receive

    def soap(body: str, status: int = 200):
        return Response('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
                        f'"http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>{body}</soapenv:Body>'
                        "</soapenv:Envelope>", status_code=status, media_type="text/xml; charset=utf-8")

    def fault(message: str, status: int):
        return soap(f"<soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>{escape(message)}"
                    "</faultstring></soapenv:Fault>", status)

    @app.post("/salesforce/outbound")
    async def salesforce_outbound(request: Request, background: BackgroundTasks):
        from quantlib.connectors.events import NotificationError, record_events, salesforce_notification, sync_events

        org_id = (env.get("SALESFORCE_ORG_ID") or "").strip()
        if not org_id:
            return fault("SALESFORCE_ORG_ID is not set: cannot check the organisation", 503)
        secret = env.get("SALESFORCE_OUTBOUND_SECRET") or ""
        given = request.query_params.get("key", "")
        if secret and not hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8")):
            return fault("not authorised", 401)
        try:
            org, events = salesforce_notification(await request.body())
        except NotificationError as exc:
            return fault(str(exc), 400)
        if not hmac.compare_digest(org[:15].encode("utf-8"), org_id[:15].encode("utf-8")):
            return fault("not authorised", 401)
        if events:
            where = lake_root()
            record_events(where, events)
            background.add_task(sync_events, where, "salesforce", events, env)
        return soap('<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack>'
                    "</notificationsResponse>")

    from quantlib.connectors.events import quickbooks_events, xero_events

    app.post("/quickbooks/webhook")(accounting(
        "quickbooks", "QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN", "intuit-signature",
        lambda payload: quickbooks_events(payload, realm=env.get("QUICKBOOKS_REALM_ID"))))
    app.post("/xero/webhook")(accounting(
        "xero", "XERO_WEBHOOK_KEY", "x-xero-signature",
        lambda payload: xero_events(payload, tenant=env.get("XERO_TENANT_ID"))))
    return app
