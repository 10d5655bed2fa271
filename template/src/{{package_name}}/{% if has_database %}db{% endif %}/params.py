"""Bounded request parameters for database rows: ids in paths, pages in queries.

Every id column is an `integer` (32 bits on PostgreSQL; SQLite holds the same values). An id
outside 1..MAX_ID names no row, and a query with it would fail in the driver (an overflow is a
500, not an answer), so such an id is refused with 422 before any query, and the bounds are
in the OpenAPI schema. Every route with an id in its path takes it as `Id`, every list takes
`Offset` and `Limit`:

    @router.get("/{widget_id}")
    async def read_widget(widget_id: Id) -> WidgetRead: ...
"""

from typing import Annotated

from fastapi import Path, Query

MAX_ID = 2**31 - 1  # ids are `integer` columns
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50

Id = Annotated[int, Path(ge=1, le=MAX_ID, description="A row id: 1 to 2147483647.")]
Offset = Annotated[
    int,
    Query(ge=0, le=MAX_ID, description="Rows to skip (offset pagination: its cost grows with it)."),
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Rows per page.")]
