"""Run as a process of its own by ``recon.store.adbc``: read one query's rows from a SQLite file through ADBC
and write them to standard output as an Arrow IPC stream.

A process of its own because adbc-driver-sqlite carries its own copy of SQLite: two copies in one process
do not share their POSIX locks, and a lock released by one (or its file closed) drops the same lock held by
the other (https://sqlite.org/howtocorrupt.html, 2.2.1). Read beside the store's own connections, another
process could then write under their open transactions. It imports nothing of ``recon``, and ADBC's
low-level API rather than its DB-API module (which imports pandas): it starts in a quarter of a second.

In (standard input, JSON): ``{"path": the database file, "sql": the query, "busy_ms": how long to wait
for a lock}``. Out: the rows in one batch (see ``rows``); on an error, its message on standard error and
exit status 1, or ``NO_DRIVER`` when the driver cannot be imported.
"""

from __future__ import annotations

import json
import sys
from typing import Any

NO_DRIVER = 3


def main() -> None:
    request = json.load(sys.stdin)
    try:
        import adbc_driver_manager
        import adbc_driver_sqlite
        import pyarrow as pa
    except ImportError as error:
        sys.stderr.write(f"{error}\n")
        sys.exit(NO_DRIVER)
    with (adbc_driver_sqlite.connect(request["path"]) as database,
          adbc_driver_manager.AdbcConnection(database) as connection):
        connection.set_autocommit(False)  # the count and the rows in one read transaction: they agree
        rows(connection, f"PRAGMA busy_timeout = {int(request['busy_ms'])}")
        count = rows(connection, f"SELECT count(*) FROM ({request['sql']})").column(0)[0].as_py()
        table = rows(connection, request["sql"], batch_rows=max(int(count), 1))
    with pa.ipc.new_stream(sys.stdout.buffer, table.schema) as writer:
        writer.write_table(table)


def rows(connection: Any, sql: str, batch_rows: int | None = None) -> Any:
    """The rows of ``sql`` as an Arrow table. The driver types each column from its first batch (a column
    all NULL there becomes int64, and a later text or real value fails): ``batch_rows`` as many as the
    query returns leaves nothing to mis-infer."""
    import adbc_driver_manager
    import pyarrow as pa

    with adbc_driver_manager.AdbcStatement(connection) as statement:
        if batch_rows is not None:
            statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
        statement.set_sql_query(sql)
        stream, _ = statement.execute_query()
        return pa.RecordBatchReader.from_stream(stream).read_all()


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # any error is the reader's answer: the parent raises it
        sys.stderr.write(f"{type(error).__name__}: {error}\n")
        sys.exit(1)
