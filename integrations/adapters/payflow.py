"""PayPal Payflow Gateway and PayPal Payments Pro (same NVP protocol, different partner)."""

from __future__ import annotations

import uuid
from typing import ClassVar

import requests

from integrations.adapters import payflow_nvp
from integrations.adapters.base import (
    AdapterBase,
    ConnectionCheck,
    Operation,
    unreachable,
)


class PayflowAdapter(AdapterBase):
    supports: ClassVar[frozenset[Operation]] = frozenset({Operation.CHECK_CREDENTIALS})

    def _host(self) -> str:
        if self.config.api_base_url:
            return self.config.api_base_url
        return payflow_nvp.PILOT_HOST if self.config.sandbox else payflow_nvp.LIVE_HOST

    def _credentials(self) -> dict[str, str]:
        settings = self.config.settings
        return {
            "PARTNER": str(settings.get("partner", "")),
            "VENDOR": str(settings.get("vendor", "")),
            "USER": str(settings.get("user", "")),
            "PWD": self.config.secrets.get("password", ""),
        }

    def _proxies(self) -> dict[str, str] | None:
        settings = self.config.settings
        if not settings.get("use_proxy"):
            return None
        proxy = f"http://{settings.get('proxy_host')}:{settings.get('proxy_port')}"
        return {"https": proxy, "http": proxy}

    def _call(self, fields: dict[str, str], request_id: str) -> dict[str, str]:
        return payflow_nvp.call(
            host=self._host(),
            fields={**self._credentials(), **fields},
            request_id=request_id,
            timeout_seconds=self.config.timeout_seconds,
            verify_ssl=bool(self.config.settings.get("enable_ssl_verification", True)),
            proxies=self._proxies(),
        )

    def check_credentials(self) -> ConnectionCheck:
        # A secure-token request for a $0 authorization moves no money; the token expires unused.
        fields = {
            "TRXTYPE": "A",
            "TENDER": "C",
            "AMT": "0.00",
            "CREATESECURETOKEN": "Y",
            "SECURETOKENID": uuid.uuid4().hex[:32] + "chk0",
        }
        try:
            response = self._call(fields, request_id=uuid.uuid4().hex)
        except requests.HTTPError as error:
            return ConnectionCheck(ok=False, message=f"Payflow answered with an error: {error}")
        except requests.RequestException as error:
            return unreachable(error)
        except payflow_nvp.NvpFormatError as error:
            return ConnectionCheck(ok=False, message=f"Payflow's answer could not be read: {error}")
        if response.get("RESULT") == "0":
            return ConnectionCheck(ok=True, message="Connected to Payflow; the credentials work.")
        return ConnectionCheck(
            ok=False,
            message=f"Payflow refused the request: {payflow_nvp.result_message(response)} "
            f"(RESULT {response.get('RESULT')}).",
        )
