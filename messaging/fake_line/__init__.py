"""A fake LINE platform (Messaging API, rich menus, LINE Login) for tests and local development.

See :mod:`messaging.fake_line.server` for what it implements. Importing this
package does not import Django.
"""

from .server import FakeLineServer

__all__ = ["FakeLineServer"]
