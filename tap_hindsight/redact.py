"""Keep the API key out of every log line, whoever logs it (our code, the SDK, urllib3).

Our own code never logs the key; this filter is the second line of defence, for messages
and tracebacks built elsewhere (an exception that quotes a header, a library's debug line).
"""

from __future__ import annotations

import logging
import traceback

REDACTED = "<redacted>"
#: Secrets shorter than this are not redacted: replacing "a" everywhere helps nobody.
MIN_SECRET_LENGTH = 6


class RedactSecrets(logging.Filter):
    """Replaces each secret in a record's message and traceback before it is written."""

    def __init__(self, secrets: list[str]) -> None:
        """Redact these strings."""
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= MIN_SECRET_LENGTH]

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        if not self.secrets:
            return True
        message = record.getMessage()
        cleaned = self._clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self._clean(record.stack_info)
        return True


def install(secrets: list[str]) -> None:
    """Add the filter to every handler that exists now (the SDK sets them up first)."""
    handlers = list(logging.getLogger().handlers)
    if logging.lastResort is not None:  # used when nothing configured logging
        handlers.append(logging.lastResort)
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            handlers.extend(logger.handlers)
    for handler in handlers:
        existing = [f for f in handler.filters if isinstance(f, RedactSecrets)]
        if existing:
            extra = RedactSecrets(secrets).secrets
            existing[0].secrets.extend(s for s in extra if s not in existing[0].secrets)
        else:
            handler.addFilter(RedactSecrets(secrets))
