"""Flags for server commands a user should look at twice before letting a client run them.

The MCP specification asks clients to show the full command of a local server before running it:
a config entry is arbitrary code execution. mcpguard shows every command untruncated before it
wraps, and these flags point at the patterns that deserve a second look: privilege escalation,
inline shell scripts, deletion, download-and-run pipes, and packages fetched unpinned at every
start (whoever controls the package then controls the server).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Severity = Literal["danger", "warning"]


@dataclass(frozen=True)
class Flag:
    """One reason to look twice, in a sentence."""

    severity: Severity
    reason: str


_ELEVATE = {"sudo", "doas", "pkexec", "su", "runas", "gsudo"}
_SHELLS = {"sh", "bash", "zsh", "dash", "ksh", "fish", "ash"}
_POWERSHELL = {"powershell", "pwsh"}
_INTERPRETER_INLINE = {
    "python": {"-c"},
    "python3": {"-c"},
    "node": {"-e", "--eval", "-p", "--print"},
    "deno": {"eval"},
    "bun": {"-e", "--eval"},
    "perl": {"-e", "-E"},
    "ruby": {"-e"},
    "osascript": {"-e"},
}
_PIPE_TO_SHELL = re.compile(
    r"\b(curl|wget|iwr|irm|invoke-webrequest|invoke-restmethod)\b[^|]*\|\s*(sudo\s+)?"
    r"(sh|bash|zsh|dash|python3?|node|iex|invoke-expression)\b",
    re.IGNORECASE,
)
_RM = re.compile(r"(^|[\s;&|(])(rm|rmdir|del|rd|remove-item|shred)(\s|$)", re.IGNORECASE)
_EXACT_VERSION = re.compile(r"\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?")
_NPX_VALUE_OPTIONS = {"-p", "--package", "-c", "--call", "--node-options", "--registry", "--cache", "--userconfig"}
_UVX_VALUE_OPTIONS = {
    "--from",
    "--with",
    "--with-editable",
    "--with-requirements",
    "-p",
    "--python",
    "--index",
    "--index-url",
    "--extra-index-url",
    "--default-index",
    "-i",
    "--directory",
    "--project",
    "--config-file",
    "--cache-dir",
    "--env-file",
}
_DOCKER_VALUE_OPTIONS = {
    "-e", "--env", "-v", "--volume", "--name", "-p", "--publish", "--network", "--net", "-w", "--workdir",
    "-u", "--user", "--mount", "--env-file", "--entrypoint", "--platform", "--pull", "--cap-add", "--cap-drop",
    "-l", "--label", "--add-host", "--device", "--pid", "--ipc", "-m", "--memory", "--cpus", "--shm-size",
    "--tmpfs", "--security-opt", "--restart", "-h", "--hostname", "--ulimit", "--gpus", "--runtime", "--userns",
    "--uts", "--cgroupns", "--dns", "--log-driver", "--log-opt", "--stop-signal", "--stop-timeout",
}  # fmt: skip


def _base(word: str) -> str:
    name = re.split(r"[\\/]", word)[-1].lower()
    return name[:-4] if name.endswith((".exe", ".cmd", ".bat")) else name


def _positionals(args: Sequence[str], value_options: set[str]) -> list[str]:
    """Arguments that are not options nor option values (``--opt=value`` carries its own)."""
    out: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a == "--":
            continue
        if a.startswith("-"):
            skip = a in value_options
            continue
        out.append(a)
    return out


def _option_value(args: Sequence[str], names: set[str]) -> str | None:
    for i, a in enumerate(args):
        if a in names and i + 1 < len(args):
            return args[i + 1]
        for n in names:
            if a.startswith(n + "="):
                return a.split("=", 1)[1]
    return None


def _is_local_path(spec: str) -> bool:
    return spec.startswith((".", "/", "~", "file:")) or "\\" in spec or re.match(r"^[A-Za-z]:", spec) is not None


def _npm_unpinned(spec: str) -> bool:
    """``pkg`` or ``@scope/pkg`` with no exact ``@x.y.z`` version (tags and ranges move)."""
    name_end = spec.find("@", 1) if spec.startswith("@") else spec.find("@")
    if name_end < 0:
        return True
    return _EXACT_VERSION.fullmatch(spec[name_end + 1 :]) is None


def _pypi_unpinned(spec: str) -> bool:
    return "==" not in spec and not re.search(r"@\d", spec)


def _script_flags(script: str) -> list[Flag]:
    flags: list[Flag] = []
    if _PIPE_TO_SHELL.search(script):
        flags.append(Flag("danger", "downloads a script and runs it (curl | sh)"))
    if _RM.search(script):
        flags.append(Flag("danger", "its script deletes files (rm)"))
    words = set(re.findall(r"[A-Za-z0-9_.-]+", script.lower()))
    if words & _ELEVATE:
        flags.append(Flag("danger", "its script asks for administrator rights (sudo)"))
    return flags


def assess(argv: Sequence[str]) -> list[Flag]:
    """Flags for a server command line (``argv[0]`` is the command), most serious first."""
    if not argv:
        return []
    flags: list[Flag] = []
    words = list(argv)
    # Privilege escalation wraps the real command: flag it, then look at what it runs.
    while words and _base(words[0]) in _ELEVATE:
        flags.append(Flag("danger", f"runs as another user, with {_base(words[0])}: the server gets those rights"))
        words = words[1:]
        while words and words[0].startswith("-"):
            words = words[1:]
    if not words:
        return flags
    cmd, args = _base(words[0]), words[1:]
    joined = shlex.join(words)

    if cmd in _SHELLS:
        inline = next((a for a in args if a.startswith("-") and not a.startswith("--") and "c" in a[1:]), None)
        if inline is not None:
            flags.append(Flag("danger", f"runs an inline shell script ({cmd} {inline})"))
            script = " ".join(args[args.index(inline) + 1 :])
            flags += _script_flags(script)
    elif cmd in _POWERSHELL:
        inline_ps = {"-command", "-c", "-encodedcommand", "-enc", "-e", "-ec"}
        if any(a.lower() in inline_ps for a in args):
            flags.append(Flag("danger", f"runs an inline PowerShell script ({cmd} -Command)"))
            flags += _script_flags(joined)
    elif cmd == "cmd" and any(a.lower() in ("/c", "/k") for a in args):
        flags.append(Flag("danger", "runs an inline cmd.exe script (cmd /c)"))
        flags += _script_flags(joined)
    elif cmd in _INTERPRETER_INLINE and any(a in _INTERPRETER_INLINE[cmd] for a in args):
        flags.append(
            Flag("danger", f"runs inline code ({cmd} {next(a for a in args if a in _INTERPRETER_INLINE[cmd])})")
        )
    elif cmd in ("rm", "rmdir", "del", "shred"):
        flags.append(Flag("danger", f"the command deletes files ({cmd})"))
    elif cmd in ("curl", "wget"):
        flags.append(Flag("warning", f"the command downloads from the network at every start ({cmd})"))
    elif _PIPE_TO_SHELL.search(joined):
        flags += _script_flags(joined)

    flags += _package_flags(cmd, args)
    return flags


def _package_flags(cmd: str, args: Sequence[str]) -> list[Flag]:
    flags: list[Flag] = []
    runner_args: Sequence[str] | None = None
    if cmd in ("npx", "bunx", "pnpx"):
        runner_args = args
    elif cmd in ("pnpm", "yarn", "bun") and args and args[0] in ("dlx", "x"):
        runner_args = args[1:]
    elif cmd == "npm" and args and args[0] in ("exec", "x"):
        runner_args = args[1:]
    if runner_args is not None:
        if any(a in ("-c", "--call") for a in runner_args):
            flags.append(Flag("danger", f"runs an inline command through {cmd} (-c)"))
        package = _option_value(runner_args, {"-p", "--package"})
        positionals = _positionals(runner_args, _NPX_VALUE_OPTIONS)
        spec = package or (positionals[0] if positionals else None)
        if spec and not _is_local_path(spec) and _npm_unpinned(spec):
            yes = " and installs it without asking (-y)" if any(a in ("-y", "--yes") for a in runner_args) else ""
            flags.append(
                Flag("warning", f"fetches the npm package {spec} without a pinned version at every start{yes}")
            )
        return flags
    uv_args: Sequence[str] | None = None
    if cmd == "uvx":
        uv_args = args
    elif cmd == "uv" and args[:2] == ["tool", "run"]:
        uv_args = args[2:]
    if uv_args is not None:
        source = _option_value(uv_args, {"--from"})
        positionals = _positionals(uv_args, _UVX_VALUE_OPTIONS)
        spec = source or (positionals[0] if positionals else None)
        if spec and not _is_local_path(spec) and _pypi_unpinned(spec):
            flags.append(
                Flag("warning", f"fetches the Python package {spec} without a pinned version (==) at every start")
            )
        return flags
    if cmd == "pipx" and args and args[0] == "run":
        spec = _option_value(args[1:], {"--spec"})
        positionals = _positionals(args[1:], {"--spec", "--python", "--index-url", "--pip-args"})
        spec = spec or (positionals[0] if positionals else None)
        if spec and not _is_local_path(spec) and _pypi_unpinned(spec):
            flags.append(
                Flag("warning", f"fetches the Python package {spec} without a pinned version at every start (pipx run)")
            )
        return flags
    if cmd in ("docker", "podman", "nerdctl") and args and args[0] in ("run", "create"):
        flags += _container_flags(cmd, args[1:])
    return flags


def _container_flags(cmd: str, args: Sequence[str]) -> list[Flag]:
    flags: list[Flag] = []
    options: list[str] = []
    image: str | None = None
    skip = False
    for a in args:
        if skip:
            skip = False
            options.append(a)
        elif a.startswith("-"):
            options.append(a)
            skip = a in _DOCKER_VALUE_OPTIONS
        else:
            image = a
            break
    if "--privileged" in options:
        flags.append(Flag("danger", f"{cmd} run --privileged: the container gets full control of the machine"))
    for i, o in enumerate(options):
        value = options[i + 1] if i + 1 < len(options) else ""
        if o == "--cap-add" and value.upper() in ("ALL", "SYS_ADMIN"):
            flags.append(
                Flag("danger", f"{cmd} run --cap-add {value.upper()}: the container gets administrator rights")
            )
        elif o.startswith("--cap-add=") and o.split("=", 1)[1].upper() in ("ALL", "SYS_ADMIN"):
            flags.append(Flag("danger", f"{cmd} run {o}: the container gets administrator rights"))
        if "docker.sock" in o:
            flags.append(Flag("danger", "the container gets the Docker socket: it can control the host"))
        if o in ("-v", "--volume") and value.startswith("/:"):
            flags.append(Flag("danger", "the container mounts the whole host file system (/)"))
    for name in ("--pid", "--network", "--net", "--ipc", "--userns", "--uts"):
        if _option_value(options, {name}) == "host":
            flags.append(Flag("warning", f"{cmd} run {name}=host shares the host's {name.lstrip('-')} namespace"))
    if image is not None and not _is_local_path(image):
        last = image.rsplit("/", 1)[-1]
        if "@sha256:" not in image and (":" not in last or last.endswith(":latest")):
            flags.append(Flag("warning", f"runs the image {image} without a pinned tag or digest"))
    return flags
