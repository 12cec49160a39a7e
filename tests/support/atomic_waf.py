"""moto's WAF as AWS behaves under concurrency.

moto checks LockTokens on UpdateWebACL, but its check-and-set is not atomic across threads (and a read can pair
new rules with an old lock token), which AWS is. `AtomicWaf` serializes the calls to make moto behave as AWS does;
it also counts conflicts and can inject errors.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError


class AtomicWaf:
    """The moto client with AWS's atomic lock-token check; counts conflicts; raises `inject`ed error codes first."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.inject: list[str] = []
        self.conflicts = 0
        self.updates = 0
        self.after_read: Callable[[], object] | None = None

    def get_web_acl(self, **kwargs: Any) -> Any:
        with self._lock:
            answer = self._inner.get_web_acl(**kwargs)
        hook, self.after_read = self.after_read, None
        if hook is not None:
            hook()
        return answer

    def update_web_acl(self, **kwargs: Any) -> Any:
        with self._lock:
            if self.inject:
                code = self.inject.pop(0)
                self.conflicts += code == "WAFOptimisticLockException"
                raise ClientError({"Error": {"Code": code, "Message": "injected"}}, "UpdateWebACL")
            try:
                answer = self._inner.update_web_acl(**kwargs)
            except ClientError as exc:
                self.conflicts += exc.response["Error"]["Code"] == "WAFOptimisticLockException"
                raise
            self.updates += 1
            return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
