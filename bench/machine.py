"""What benchmarks share about the machine: its one-line description for a printed header
(BENCHMARKS.md) and a free loopback port."""

import socket
import subprocess


def machine() -> str:
    def run(command: list[str]) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()  # noqa: S603
        except OSError:
            return "?"

    memory = run(["free", "-h"]).splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in run(["lscpu"]).splitlines()
                if line.startswith("Model name")), "?")
    return f"{run(['nproc'])} CPU ({cpu}), memory {memory[1].split()[1] if len(memory) > 1 else '?'}"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
