"""`/webhooks/<token>/`: one unguessable URL per integration; the signature is checked first."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.models import Integration
from payments.webhooks import webhook_receive


@csrf_exempt  # providers sign their calls; they cannot send our CSRF token
@login_not_required
@require_POST
def webhook(request: HttpRequest, token: str) -> HttpResponse:
    integration = Integration.objects.alive().filter(webhook_token=token).first()
    if integration is None:
        raise Http404("No such webhook.")
    outcome = webhook_receive(
        integration=integration,
        body=request.body,
        headers={name: value for name, value in request.headers.items()},
    )
    return HttpResponse(outcome.detail, status=outcome.status, content_type="text/plain")
