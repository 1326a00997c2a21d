"""A local S3-compatible server (moto in server mode) in its own process, for the S3 lake path."""

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from ai_trader_assets_tests.support.net import free_port

ACCESS_KEY_ID = "test-access-key"
SECRET_ACCESS_KEY = "test-SECRET-never-shown-5c1d"
REGION = "us-east-1"


@contextlib.contextmanager
def moto_server(*, check_keys: bool = False) -> Iterator[str]:
    """Start ``moto_server`` on a free port; yields its endpoint URL. ``check_keys``: it refuses
    requests signed with keys it does not know (``InvalidAccessKeyId``), as S3 does."""
    port = free_port()
    executable = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
    environment = os.environ | ({"INITIAL_NO_AUTH_ACTION_COUNT": "0"} if check_keys else {})
    process = subprocess.Popen(
        [executable, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=environment,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def create_bucket(endpoint: str, name: str) -> None:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        region_name=REGION,
    )
    client.create_bucket(Bucket=name)
