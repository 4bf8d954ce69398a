#!/usr/bin/env python3
"""The local AWS emulator for phoenix-ops: moto in server mode on 127.0.0.1.

Prints exactly one line, `PHOENIX_EMULATOR_URL=http://127.0.0.1:PORT`, once the server answers,
then serves until it gets SIGTERM/SIGINT, or (with --watch-parent) until the process that
started it is gone, so a test run that dies never leaves a server behind.

Set-up done here, visibly, because moto differs from AWS:
* ECS tasks stay RUNNING until stopped. By default moto moves a task one status towards
  STOPPED on every DescribeTasks call, which real ECS never does.
"""
import argparse
import json
import logging
import os
import signal
import socket
import sys
import time
import urllib.request

from moto.moto_server.threaded_moto_server import ThreadedMotoServer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--watch-parent", action="store_true", help="exit when the parent process exits")
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    if args.port:
        # ThreadedMotoServer waits forever on a port it cannot bind: refuse clearly instead.
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            probe.bind(("127.0.0.1", args.port))
        except OSError as e:
            print(f"emulator: port {args.port} is not free ({e.strerror}); leave --port out to use a free one", file=sys.stderr)
            return 2
        finally:
            probe.close()
    server = ThreadedMotoServer("127.0.0.1", args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"

    transition = {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1000000}}
    request = urllib.request.Request(
        url + "/moto-api/state-manager/set-transition",
        data=json.dumps(transition).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=30).read()

    print(f"PHOENIX_EMULATOR_URL={url}", flush=True)

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    parent = os.getppid()
    while not stop:
        time.sleep(0.3)
        if args.watch_parent and os.getppid() != parent:
            break
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
