"""An SNS notifier that speaks through :class:`awsdr.aws.context.AwsContext`.

Same shape as the Amazon provider's ``SnsNotifier`` (templated subject and message, ``aws_conn_id``,
``target_arn``), but the region comes from the topic ARN (a topic lives in one region, whatever
the connection's default is) and the clients are this project's, so a test's moto endpoint and the
connection's endpoint overrides apply exactly as for every other call.

Two ways to use it:

- as an Airflow callback (``on_failure_callback=AwsDrSnsNotifier(...)``): ``subject`` and
  ``message`` are Jinja-rendered with the callback's context, then published;
- directly, ``AwsDrSnsNotifier(...).notify(context)`` (or ``.publish()``, which also returns the
  message id): the text is published as given, no rendering, so braces in generated text are
  safe. ``dr_posture`` sends its alerts this way.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import TYPE_CHECKING, Any

from airflow.sdk.bases.notifier import BaseNotifier

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

    from awsdr.aws.context import AwsContext

#: SNS limits: subjects are at most 100 printable ASCII characters on one line, messages 256 KiB.
MAX_SUBJECT = 100
MAX_MESSAGE_BYTES = 256 * 1024 - 1024  # headroom for the attributes

_ARN_RE = re.compile(r"^arn:aws(-cn|-us-gov)?:sns:(?P<region>[a-z0-9-]+):[0-9]{12}:[A-Za-z0-9_.-]+$")


def topic_region(arn: str) -> str:
    """The region of an SNS topic ARN (``arn:aws:sns:<region>:<account>:<name>``)."""
    match = _ARN_RE.match(arn)
    if match is None:
        raise ValueError(f"not an SNS topic ARN: {arn!r}")
    return match.group("region")


def clean_subject(subject: str) -> str:
    """A subject SNS accepts: one line, printable ASCII, at most 100 characters."""
    text = " ".join(subject.split())
    text = "".join(c if 32 <= ord(c) < 127 else "?" for c in text)
    if len(text) > MAX_SUBJECT:
        text = text[: MAX_SUBJECT - 3] + "..."
    return text or "AWSDR notification"


def clip_message(message: str) -> str:
    """``message`` cut to what one SNS publish takes (UTF-8 bytes), marked when cut."""
    data = message.encode()
    if len(data) <= MAX_MESSAGE_BYTES:
        return message
    return data[: MAX_MESSAGE_BYTES - 20].decode(errors="ignore") + "\n... (truncated)"


class AwsDrSnsNotifier(BaseNotifier):
    """Publish one message to an SNS topic.

    :param target_arn: the topic ARN (templated); the publish goes to the ARN's region.
    :param message: the message body (templated when used as a callback).
    :param subject: an optional subject (templated); cleaned to SNS's one-line 100-character rule.
    :param message_attributes: flat ``{name: str | int | float}`` attributes for subscription
        filter policies (templated).
    :param aws_conn_id: the AWS connection (credentials, role, endpoint).
    :param ctx: an existing :class:`AwsContext` to publish through (operators pass theirs); built
        from ``aws_conn_id`` on first use otherwise.
    """

    template_fields: Sequence[str] = ("target_arn", "subject", "message", "message_attributes")

    def __init__(
        self,
        *,
        target_arn: str,
        message: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        aws_conn_id: str = "aws_default",
        ctx: AwsContext | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.target_arn = target_arn
        self.message = message
        self.subject = subject
        self.message_attributes = message_attributes
        self.aws_conn_id = aws_conn_id
        self._ctx = ctx

    @property
    def ctx(self) -> AwsContext:
        if self._ctx is None:
            from awsdr.aws.context import AwsContext

            self._ctx = AwsContext.from_connection(self.aws_conn_id)
        return self._ctx

    def publish_kwargs(self) -> dict[str, Any]:
        """The ``sns.publish`` arguments for the current (rendered or literal) fields."""
        kwargs: dict[str, Any] = {"TopicArn": self.target_arn, "Message": clip_message(str(self.message))}
        if self.subject:
            kwargs["Subject"] = clean_subject(str(self.subject))
        if self.message_attributes:
            kwargs["MessageAttributes"] = {
                str(name): (
                    {"DataType": "Number", "StringValue": str(value)}
                    if isinstance(value, int | float) and not isinstance(value, bool)
                    else {"DataType": "String", "StringValue": str(value)}
                )
                for name, value in self.message_attributes.items()
                if value is not None and str(value) != ""
            }
        if self.target_arn.endswith(".fifo"):
            digest = hashlib.sha256(f"{kwargs.get('Subject', '')}\n{kwargs['Message']}".encode()).hexdigest()
            kwargs["MessageGroupId"] = "awsdr"
            kwargs["MessageDeduplicationId"] = digest[:64]
        return kwargs

    def publish(self) -> str:
        """Publish the fields as they are now; returns the SNS message id."""
        sns = self.ctx.client("sns", topic_region(self.target_arn))
        response = sns.publish(**self.publish_kwargs())
        message_id = str(response.get("MessageId", ""))
        self.log.info("Published SNS message %s to %s", message_id, self.target_arn)
        return message_id

    def notify(self, context: Context | dict[str, Any] | None = None) -> None:
        """Publish the message (``context`` is only used by the callback path's rendering)."""
        self.publish()

    async def async_notify(self, context: Context) -> None:
        """Publish from the triggerer (deadline alerts): the blocking call runs in a thread."""
        await asyncio.to_thread(self.notify, context)


send_awsdr_sns_notification = AwsDrSnsNotifier
