"""The notifications addon's own event types, scheduled jobs and settings (hook
implementations; ``__init__.py`` re-exports them so pluggy finds them on the addon)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core import hookimpl
from core.hooktypes import NotificationEventType, ScheduledJob, SettingDef, SmsGateway

OUTBOX_EVERY_SECONDS = 5
BIRTHDAYS_EVERY_SECONDS = 3600  # daily work, but hourly runs catch up after a restart


@hookimpl
def notification_event_types() -> list[NotificationEventType]:
    return [
        NotificationEventType(
            "notifications.private_message",
            _l("New private message"),
            _l("Someone wrote to you in private messages."),
            default_channels=("popup",),
        ),
    ]


@hookimpl
def scheduled_jobs() -> list[ScheduledJob]:
    from addons.notifications.outbox import outbox_job
    from addons.notifications.scans import birthdays_job

    return [
        ScheduledJob("notifications.outbox", outbox_job, every_seconds=OUTBOX_EVERY_SECONDS),
        ScheduledJob(
            "notifications.birthdays", birthdays_job, every_seconds=BIRTHDAYS_EVERY_SECONDS
        ),
    ]


@hookimpl
def settings() -> list[SettingDef]:
    from addons.notifications.channels import setting_defs

    return setting_defs()


@hookimpl
def sms_gateways() -> list[SmsGateway]:
    """The generic HTTP gateway (URL, method, auth header and body template in settings)."""
    from addons.notifications.channels import HTTP_GATEWAY

    return [HTTP_GATEWAY]
