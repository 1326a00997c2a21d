"""A separate process writing to (or maintaining) the lake, for the concurrency tests.

    python -m ai_trader_assets_tests.support.lake_writer write --database URL --lake PATH --layer 2 \
        --symbols AAPL,MSFT --sessions 2026-10-01,2026-10-02
    python -m ai_trader_assets_tests.support.lake_writer maintain --database URL --lake PATH \
        --today 2026-11-20

``write`` stores each session in its own commit through the real write path (locks included).
``--file-bytes`` makes delta-rs cut small files, so a test can kill the process in the middle of one
commit. The process prints one line per commit and exits 0 when everything was stored.
"""

import argparse
import datetime as dt
import functools
import os
import sys
import time

import deltalake

from ai_trader_assets.config import load_config
from ai_trader_assets.datasets import Dataset
from ai_trader_assets.settings import Secret
from ai_trader_assets.storage.database import MarketDatabase
from ai_trader_assets.storage.lake import Lake
from ai_trader_assets.storage.lake import tables as tables_module
from ai_trader_assets.storage.lake.commits import Commit
from ai_trader_assets.storage.lake.maintenance import maintain_table
from ai_trader_assets.storage.lake.tables import lake_tables
from ai_trader_assets_tests.support.lake import demo_frame

DATASET = Dataset.BARS_1MIN


def lake_from_environment(url: str) -> Lake:
    """The lake at ``url``; for ``s3://`` the endpoint and credentials come from the AWS_* variables."""
    key_id, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    return Lake(
        url,
        s3_endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),
        s3_region=os.environ.get("AWS_REGION"),
        s3_access_key_id=Secret(key_id) if key_id else None,
        s3_secret_access_key=Secret(secret) if secret else None,
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["write", "maintain"])
    parser.add_argument("--database", required=True)
    parser.add_argument("--lake", required=True)
    parser.add_argument("--layer", type=int, default=0)
    parser.add_argument("--symbols", default="")
    parser.add_argument("--sessions", default="")
    parser.add_argument("--today", default="2026-11-20")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between maintenance rounds")
    parser.add_argument("--file-bytes", type=int, default=0)
    args = parser.parse_args(argv)
    database = MarketDatabase(args.database)
    tables = lake_tables(lake_from_environment(args.lake), load_config(), database)
    if args.file_bytes:
        small_files = functools.partial(deltalake.write_deltalake, target_file_size=args.file_bytes)
        setattr(tables_module, "write_deltalake", small_files)  # noqa: B010 - the module's own name
    try:
        if args.mode == "maintain":
            for round_ in range(args.rounds):
                report = maintain_table(
                    tables, DATASET, dt.date.fromisoformat(args.today), run_id=f"m{round_}"
                )
                print(f"maintained: {report.summary()}", flush=True)
                time.sleep(args.pause)
            return 0
        symbols = args.symbols.split(",")
        for day in args.sessions.split(","):
            session = dt.date.fromisoformat(day)
            frame = demo_frame(DATASET, symbols, session, session)
            key = f"{session}|{args.layer}"
            tables.store(DATASET, frame, args.layer, Commit("ingest", f"writer-{args.layer}", (key,)))
            print(f"committed {key} {len(frame)}", flush=True)
    finally:
        database.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
