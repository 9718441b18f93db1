"""`{% connected_apps_section %}`: the security page's "Connected apps", kept in the oidc app.

The security page belongs to accounts, which never imports oidc; the template loads this tag.
"""

from __future__ import annotations

from typing import Any

from django import template

from oidc.selectors import connected_apps_of

register = template.Library()


@register.inclusion_tag("oidc/_connected_apps.html", takes_context=True)
def connected_apps_section(context: template.Context) -> dict[str, Any]:
    request = context["request"]
    return {"connected_apps": connected_apps_of(request.user), "csrf_token": context.get("csrf_token")}
