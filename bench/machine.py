"""The machine a benchmark ran on, in one line for its printed header (BENCHMARKS.md)."""

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
