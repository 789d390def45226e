"""A real SMTP server for Roster's tests (aiosmtpd).

Accepted messages are written to DIR as numbered .eml files. While the file REFUSE exists,
every message is refused with a temporary failure (451), as a mail server in trouble does.

    python smtp_sink.py PORT DIR REFUSE
"""
import asyncio
import os
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory, refuse_file):
        self.directory = directory
        self.refuse_file = refuse_file
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        if os.path.exists(self.refuse_file):
            return "451 4.3.0 Temporarily unable to accept mail"
        self.count += 1
        path = os.path.join(self.directory, f"{self.count:05d}.eml")
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.replace(tmp, path)
        return "250 OK"


def main():
    port, directory, refuse_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    os.makedirs(directory, exist_ok=True)
    controller = Controller(Sink(directory, refuse_file), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.get_event_loop().run_until_complete(asyncio.Event().wait())
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
