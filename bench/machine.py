"""What benchmarks share about the machine: its one-line description for a printed header
(BENCHMARKS.md), a free loopback port, and stopping a server they started."""

import os
import signal
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


def stop_process(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL to the process group (started with ``start_new_session``) if it hangs."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)
