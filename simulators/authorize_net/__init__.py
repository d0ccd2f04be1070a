"""Authorize.Net's XML API (https://apitest.authorize.net/xml/v1/request.api), as far as the adapter
uses it.

Supported: `authenticateTestRequest` with `merchantAuthentication` name and transactionKey. Every
request is validated with the SDK's own schema bindings (`apicontractsv1.CreateFromDocument`), so
a request the real API would reject as malformed gets E00003 here too. Answers start with a UTF-8
byte order mark as the real API's do: the SDK strips the first three characters unconditionally.
"""

from __future__ import annotations

import xml.sax
from xml.sax.saxutils import escape

import pyxb
from authorizenet import apicontractsv1

from simulators.base import Request, Response, Simulator

NAMESPACE = "AnetApi/xml/v1/schema/AnetApiSchema.xsd"
PATH = "/xml/v1/request.api"
BOM = "\ufeff".encode()


def _reply(
    root: str, result_code: str, code: str, text: str, *, ref_id: str | None = None
) -> Response:
    ref = f"<refId>{escape(ref_id)}</refId>" if ref_id else ""
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<{root} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns="{NAMESPACE}">'
        f"{ref}<messages><resultCode>{result_code}</resultCode>"
        f"<message><code>{code}</code><text>{escape(text)}</text></message></messages>"
        f"</{root}>"
    )
    return Response(200, BOM + body.encode(), "application/xml; charset=utf-8")


class AuthorizeNetSimulator(Simulator):
    content_type = "application/xml; charset=utf-8"

    def __init__(self) -> None:
        super().__init__()
        self.merchants: dict[str, str] = {}  # API login ID → transaction key

    def reset(self) -> None:
        super().reset()
        self.merchants.clear()

    def answer(self, request: Request) -> Response:
        if (request.method, request.path) != ("POST", PATH):
            return self.not_simulated(request)
        try:
            document = apicontractsv1.CreateFromDocument(request.body)
        except (pyxb.PyXBException, xml.sax.SAXException) as error:
            return _reply(
                "ErrorResponse",
                "Error",
                "E00003",
                f"An error occurred while parsing the XML request. {error}",
            )
        request_name = document._element().name().localName()
        response_name = request_name.removesuffix("Request") + "Response"
        ref_id = getattr(document, "refId", None)
        merchant = document.merchantAuthentication
        if self.merchants.get(str(merchant.name)) != merchant.transactionKey:
            return _reply(
                response_name,
                "Error",
                "E00007",
                "User authentication failed due to invalid authentication values.",
                ref_id=ref_id,
            )
        if request_name == "authenticateTestRequest":
            return _reply(response_name, "Ok", "I00001", "Successful.", ref_id=ref_id)
        return self.not_simulated(request)
