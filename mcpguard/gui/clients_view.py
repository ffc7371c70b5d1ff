"""The "AI clients" page: which clients on this machine start which MCP servers, and whether through mcpguard.

mcpguard only guards a server its client starts through ``mcpguard run``, so this page is where a user
sees what is and is not covered: every client config found (:mod:`mcpguard.clients.discovery`), each
server in it with its transport, guarded state and risk flags, and a config that does not parse with
its error (file, line, column). Wrap and Unwrap work per client (all its local servers) and per server.

Nothing is written before the user read what will change: the MCP specification asks that a user sees
the exact command of a local server before consenting to run it, so :class:`PlanDialog` shows each
command whole (hidden characters as badges), its risk flags and the unified diff of every file, with
Cancel as the button Enter and Escape choose. Commands, addresses and diffs come through the core's
:mod:`mcpguard.clients.display`, so a literal token in a config shows as ``[hidden: token]`` here too.
Applying goes through the core (backup, atomic write, verify); a failure is one sentence on the page,
never a half-written file.

A remote server mcpguard bridges can be signed in to from here at any time ("Sign in…"), not only
while a bridge waits for it: the page runs ``mcpguard remote login NAME --client CLIENT`` in a child
process (:class:`QProcess`), so the sign-in reads its options from the very entry the client starts,
exactly as from a terminal, and the GUI stays responsive while the user is in the browser. The page
shows only the one line login prints on its outcome; login never prints a token.
"""

from __future__ import annotations

import html
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QProcess,
    QProcessEnvironment,
    QSignalBlocker,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QFontMetrics,
    QIcon,
    QPainter,
    QPalette,
    QPixmap,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mcpguard.clients.discovery import ConfigFile, ServerEntry, discover
from mcpguard.clients.display import shown_text
from mcpguard.clients.entries import parse_wrapped
from mcpguard.clients.errors import ClientConfigError
from mcpguard.clients.operations import Action, Applied, Kind, Plan, apply, make_plan
from mcpguard.clients.records import WrapRecords
from mcpguard.clients.report import command_line
from mcpguard.clients.risk import Flag, assess
from mcpguard.clients.table import CLIENTS
from mcpguard.errors import McpGuardError
from mcpguard.gui.approval_dialog import DARK, LIGHT, DiffColours
from mcpguard.gui.config_watch import ClientEvent, ServerKey, client_name, notification
from mcpguard.gui.hidden_text import to_html
from mcpguard.gui.icons import paint_warning
from mcpguard.gui.servers_view import status_icon
from mcpguard.paths import HOME_ENV, AppPaths
from mcpguard.policy import Status
from mcpguard.scanner import reveal
from mcpguard.secrets.base import SecretStore

__all__ = ["ClientsView", "ConfirmPlan", "PlanDialog", "diff_html", "display_path", "plan_html"]

ConfirmPlan = Callable[[Plan], bool]
"""``plan -> go ahead?``; the page shows a :class:`PlanDialog` by default, tests answer at once."""

DANGER = "#c53030"
WARNING = "#b7791f"
GUARDED = "#2f855a"
_SEVERITY_COLOURS = {"danger": DANGER, "warning": WARNING}

_NAME, _TRANSPORT, _GUARDED, _COMMAND, _RISK = range(5)
_KEY_ROLE = Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class _Key:
    """What a tree row stands for; survives a rebuild of the tree, unlike the row itself."""

    client: str
    path: str | None = None
    """Set for a config file's rows (and its servers)."""
    server: ServerKey | None = None


def display_path(path: Path | str, env: Mapping[str, str] | None = None) -> str:
    """``path`` with the home directory written ``~``: short enough for a table, still unambiguous."""
    source = os.environ if env is None else env
    home = source.get("HOME") or source.get("USERPROFILE") or str(Path.home())
    text = str(path)
    if home and (text == home or text.startswith(home.rstrip(os.sep) + os.sep)):
        return "~" + text[len(home.rstrip(os.sep)) :]
    return text


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {plural or word + 's'}"


def _flags(server: ServerEntry) -> list[Flag]:
    command = assess(server.original or ()) if server.transport == "stdio" and not _bridged(server) else []
    return [*command, *server.token_flags]


def _bridged(server: ServerEntry) -> bool:
    """True for a remote server mcpguard wrapped: its client starts ``mcpguard remote URL``."""
    if server.command is None or not server.guarded:
        return False
    wrapped = parse_wrapped(server.command, server.args)
    return wrapped is not None and wrapped.remote


def _bridge_name(server: ServerEntry) -> str | None:
    """The ``--name`` a wrapped remote entry starts its bridge with: the name login finds it by, and keeps the token
    under. None for any other entry (nothing to sign in to), or a bridge entry without a name (login would refuse it).
    """
    if server.command is None or not server.guarded:
        return None
    wrapped = parse_wrapped(server.command, server.args)
    if wrapped is None or not wrapped.remote:
        return None
    return wrapped.server or None


_DISCOVERY_VARS = frozenset(
    {"HOME", "USERPROFILE", "APPDATA", "XDG_CONFIG_HOME"}
    | {var for spec in CLIENTS for location in spec.locations for var, _ in location.defaults}
)
"""The environment variables client configs are found by: login must look where the page looked."""

_SIGNIN_PREFIX = "mcpguard: "
_NO_BROWSER = "no browser could be opened"
"""How login's line begins when the user must open the sign-in address by hand (it waits meanwhile)."""


def _remote_html(action: Action, colours: DiffColours) -> str:
    """Where a wrapped remote server is reached and what becomes of each header: names only, never values."""
    remote = action.remote
    assert remote is not None
    parts = [
        f'<p style="margin:0 0 2px 0;">Reached at {to_html(shown_text(remote.url))} through '
        "<code>mcpguard remote</code>, which checks its tools as it does a local server's.</p>"
    ]
    if remote.keyring_headers:
        parts.append(
            '<p style="margin:0 0 2px 0;">Moved to the keyring: the value of '
            f"{to_html(', '.join(remote.keyring_headers))} "
            f'<span style="color:{colours.muted};">(not shown; the entry names the keyring item instead)</span>.</p>'
        )
    if remote.plain_headers:
        parts.append(
            f'<p style="margin:0 0 2px 0;">Passed on the command line as they are: '
            f"{to_html(', '.join(remote.plain_headers))} "
            f'<span style="color:{colours.muted};">(they do not look like secrets)</span>.</p>'
        )
    return "".join(parts)


def _worst(flags: Sequence[Flag]) -> Flag | None:
    return next((f for f in flags if f.severity == "danger"), flags[0] if flags else None)


def _flag_counts(flags: Sequence[Flag]) -> str:
    danger = sum(1 for f in flags if f.severity == "danger")
    warning = len(flags) - danger
    parts = ([_plural(danger, "danger")] if danger else []) + ([_plural(warning, "warning")] if warning else [])
    return " · ".join(parts)


@cache
def flag_icon(severity: str) -> QIcon:
    """A warning triangle, red for danger and amber for a warning: shape and colour both say it."""
    size = 32
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    paint_warning(painter, QColor(_SEVERITY_COLOURS.get(severity, WARNING)))
    painter.end()
    pixmap.setDevicePixelRatio(2.0)
    return QIcon(pixmap)


# -- rich text shared by the page and the dialog ------------------------------------------------------


def _badge(severity: str) -> str:
    colour = _SEVERITY_COLOURS.get(severity, WARNING)
    return (
        f'<span style="background-color:{colour}; color:#ffffff; font-weight:bold;">'
        f"&nbsp;{html.escape(severity.upper())}&nbsp;</span>"
    )


def flags_html(flags: Sequence[Flag], colours: DiffColours = LIGHT) -> str:
    """Each flag as a coloured badge and its sentence; a clean command says what that does (not) mean."""
    if not flags:
        return (
            f'<p style="margin:2px 0; color:{colours.muted};">No risk flags: nothing in this command matches the '
            "patterns mcpguard looks for. That does not make it safe; read it.</p>"
        )
    return "".join(f'<p style="margin:2px 0;">{_badge(f.severity)}&nbsp; {html.escape(f.reason)}</p>' for f in flags)


def _code(text: str, colours: DiffColours, mono: str) -> str:
    """A command line in a box: monospace, wrapped anywhere, hidden characters as badges, never cut."""
    return (
        f'<p style="margin:4px 0 6px 0; white-space:pre-wrap; font-family:{html.escape(mono)}; '
        f'background-color:{colours.excerpt};">{to_html(text)}</p>'
    )


def plan_html(
    plan: Plan, colours: DiffColours = LIGHT, *, mono: str = "monospace", env: Mapping[str, str] | None = None
) -> str:
    """Every server of a plan: its client and file, its whole command, its environment's names, its flags."""
    parts: list[str] = []
    for file_plan in plan.files:
        config = file_plan.config
        parts.append(
            f'<p style="margin:10px 0 2px 0;"><b>{html.escape(config.spec.name)}</b>&nbsp; '
            f'<span style="color:{colours.muted};">{html.escape(display_path(config.path, env))}</span></p>'
        )
        for action in file_plan.actions:
            s = action.server
            notes = []
            if s.scope == "local" and s.project:
                notes.append(f"project {to_html(s.project)}")
            if s.disabled:
                notes.append("disabled in the client")
            extra = f' <span style="color:{colours.muted};">({", ".join(notes)})</span>' if notes else ""
            parts.append(f'<p style="margin:8px 0 0 0;"><b>{to_html(s.name)}</b>{extra}</p>')
            if action.remote is not None:
                parts.append(_remote_html(action, colours))
            parts.append(_code(command_line(action.argv), colours, mono))
            if s.env:
                parts.append(
                    f'<p style="margin:0 0 2px 0; color:{colours.muted};">Sets the environment variables '
                    f"{to_html(', '.join(s.env))} (values not shown).</p>"
                )
            if action.flags:
                parts.append(flags_html(action.flags, colours))
    if plan.skipped:
        items = "".join(
            f"<li>{to_html(sk.server.name)} ({html.escape(client_name(sk.server.client))}): "
            f"{html.escape(shown_text(sk.reason))}</li>"
            for sk in plan.skipped
        )
        parts.append(f'<p style="margin:12px 0 0 0; color:{colours.muted};">Left alone:</p>')
        parts.append(f'<ul style="margin:0; color:{colours.muted};">{items}</ul>')
    return f'<div style="color:{colours.text};">{"".join(parts)}</div>'


def diff_html(diff: str, colours: DiffColours = LIGHT, *, mono: str = "monospace") -> str:
    """A unified diff in Qt rich text: removed lines red, added green, headers muted, long lines wrapped."""
    rows: list[str] = []
    for line in diff.splitlines():
        style = "margin:0; white-space:pre-wrap;"
        if line.startswith(("---", "+++")):
            style += f" color:{colours.muted}; font-weight:bold;"
        elif line.startswith(("@@", "\\")):
            style += f" color:{colours.muted};"
        elif line.startswith("+"):
            style += f" background-color:{colours.added};"
        elif line.startswith("-"):
            style += f" background-color:{colours.removed};"
        rows.append(f'<p style="{style}">{to_html(line) or "&nbsp;"}</p>')
    return f'<div style="color:{colours.text}; font-family:{html.escape(mono)};">{"".join(rows)}</div>'


def _short_headers(diff: str, path: Path, env: Mapping[str, str] | None) -> str:
    """The diff with its ``---``/``+++`` lines naming the file the way the rest of the dialog does (``~/...``)."""
    lines = diff.splitlines(keepends=True)
    for i, line in enumerate(lines[:2]):
        if line.startswith(("--- ", "+++ ")):
            lines[i] = line[:4] + line[4:].replace(str(path), display_path(path, env), 1)
    return "".join(lines)


class _ElideMiddle(QStyledItemDelegate):
    """Command lines lose their middle when cut, so both the program and its last argument stay readable."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:  # noqa: N802
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle


def _colours(widget: QWidget) -> DiffColours:
    return DARK if widget.palette().color(QPalette.ColorRole.Base).lightness() < 128 else LIGHT


def _mono() -> QFont:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


def _browser() -> QTextBrowser:
    view = QTextBrowser()
    view.setOpenLinks(False)
    view.setOpenExternalLinks(False)
    return view


def _section(title: str, widget: QWidget) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 4, 0, 0)
    heading = QLabel(title)
    font = heading.font()
    font.setBold(True)
    heading.setFont(font)
    heading.setBuddy(widget)
    layout.addWidget(heading)
    layout.addWidget(widget, 1)
    return box


def _sentence(text: str) -> str:
    """An error message as the end of a sentence: no doubled full stop."""
    return text.rstrip().rstrip(".")


# -- the confirmation ---------------------------------------------------------------------------------


class PlanDialog(QDialog):
    """Asks before a wrap or unwrap: every command whole, its flags, and the diff of every file.

    Cancel is the default button (Enter and Escape choose it); the action button only answers a click,
    Space when focused, or its mnemonic. ``exec()`` returns Accepted when the user chose to go ahead.
    """

    def __init__(self, plan: Plan, parent: QWidget | None = None, *, env: Mapping[str, str] | None = None) -> None:
        super().__init__(parent)
        self.plan = plan
        verb = "Wrap" if plan.kind == "wrap" else "Unwrap"
        count = len(plan.actions)
        servers_word = "server" if count == 1 else "servers"
        clients = sorted({f.config.spec.name for f in plan.files})
        colours = _colours(self)
        mono = _mono()
        self.setWindowTitle(f"mcpguard — {verb.lower()} {servers_word}")
        self.setSizeGripEnabled(True)
        self.setMinimumSize(640, 460)
        self.resize(920, 680)

        title = QLabel()
        title.setTextFormat(Qt.TextFormat.RichText)
        title.setText(f"<b>{verb} {count} {servers_word} of {html.escape(', '.join(clients))}?</b>")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        title.setFont(font)
        intro = QLabel()
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.RichText)
        if plan.kind == "wrap":
            launcher = command_line([*plan.launcher, "run"])
            bridge = html.escape(command_line([*plan.launcher, "remote"]))
            remote = sum(1 for a in plan.actions if a.remote is not None)
            secret = " A header value that looks like a secret moves to the keyring, never onto a command line."
            if remote == count:
                text = (
                    f"From its next start, the client reaches each server through <code>{bridge}</code>: mcpguard "
                    "becomes its bridge, pins its tools and asks you before anything new reaches the model."
                    + secret
                    + " <b>Read each command:</b> it is what runs on this machine, with your rights."
                )
            else:
                text = (
                    f"From its next start, the client launches each server through "
                    f"<code>{html.escape(launcher)}</code>, which pins its tools and asks you before anything new "
                    "reaches the model. <b>Read each command:</b> it is what runs on this machine, with your rights."
                )
                if remote:
                    text += f" A remote server is reached through <code>{bridge}</code> instead: mcpguard becomes "
                    text += "its bridge." + secret
            intro.setText(text)
        else:
            intro.setText(
                "The client will start these servers directly again: their tools and answers reach the model "
                "without mcpguard's checks. Each entry gets back the command it had before it was wrapped."
            )

        self.commands = _browser()
        self.commands.document().setDefaultFont(self.font())
        self.commands.setHtml(plan_html(plan, colours, mono=mono.family(), env=env))
        self.commands.setAccessibleName("Servers and their commands")
        self.diff_view = _browser()
        self.diff_view.setLineWrapMode(QTextBrowser.LineWrapMode.WidgetWidth)
        self.diff_view.document().setDefaultFont(mono)
        self.diff_view.setTabStopDistance(4 * QFontMetrics(mono).horizontalAdvance(" "))  # VS Code's tabs
        diffs = "".join(_short_headers(f.diff(), f.config.path, env) for f in plan.files)
        self.diff_view.setHtml(diff_html(diffs, colours, mono=mono.family()))
        self.diff_view.setAccessibleName("Changes to the files")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(_section("&Servers and the commands that will run", self.commands))
        splitter.addWidget(_section("&Changes to the files (a backup of each is kept)", self.diff_view))
        splitter.setSizes([290, 290])

        self.errors = QLabel()
        self.errors.setWordWrap(True)
        self.errors.setTextFormat(Qt.TextFormat.PlainText)
        self.errors.setStyleSheet(f"QLabel {{ color: {DANGER}; }}")
        self.errors.setText("\n".join(f"Left alone, it cannot be read: {e}" for e in plan.errors))
        self.errors.setVisible(bool(plan.errors))

        self.apply_button = QPushButton(f"&{verb} {count} {servers_word}")
        self.cancel_button = QPushButton("Cancel")
        # Enter must never wrap: only Cancel may be a default button.
        self.apply_button.setAutoDefault(False)
        self.apply_button.clicked.connect(self.accept)
        self.cancel_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.apply_button)
        buttons.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.errors)
        layout.addLayout(buttons)
        self.cancel_button.setAutoDefault(True)
        self.cancel_button.setDefault(True)  # after the layout: the button must know its dialog
        self.cancel_button.setFocus()


# -- the page -----------------------------------------------------------------------------------------


@contextmanager
def _busy() -> Iterator[None]:
    """A wait cursor while files are parsed and written on the GUI thread (a long ~/.claude.json takes a second)."""
    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        yield
    finally:
        QApplication.restoreOverrideCursor()


class ClientsView(QWidget):
    """Clients and their servers in a tree, the selection in full below, Wrap and Unwrap buttons.

    Args:
        paths: The profile: wraps back up each config into it and record what they replaced.
        parent: The Qt parent.
        confirm: Asked with the plan before anything is written; by default a :class:`PlanDialog`.
        env: Where ``HOME``, ``XDG_CONFIG_HOME`` and ``APPDATA`` come from; None reads ``os.environ``
            at every refresh.
        platform: ``linux``, ``darwin`` or ``win32``; None is this machine.
        launcher: The command that starts mcpguard in wrapped entries; None finds this installation's.
        secrets: Where a remote entry's secret header values go when it is wrapped (and come back from);
            None opens the profile's keyring when first needed.
        login_command: The command that starts mcpguard for a sign-in, before ``remote login NAME
            --client CLIENT``; None is this interpreter's ``python -m mcpguard`` (tests give a script).

    The page reads the configs when first shown or on :meth:`refresh`; the tray's
    :class:`~mcpguard.gui.config_watch.ConfigWatch` hands it its readings (:meth:`show_configs`)
    and events (:meth:`on_watch_events`) so a change on disk shows up without a click.
    """

    changed = Signal()
    """A wrap or unwrap made here changed at least one config file."""
    applied = Signal(str, object)
    """``(kind, keys)``: the servers a wrap or unwrap made here changed (``list[ServerKey]``)."""
    signin_finished = Signal(str, bool)
    """``(name, ok)``: a sign-in started here ended; ``ok`` when login said it is signed in (exit status 0)."""

    def __init__(
        self,
        paths: AppPaths,
        parent: QWidget | None = None,
        *,
        confirm: ConfirmPlan | None = None,
        env: Mapping[str, str] | None = None,
        platform: str | None = None,
        launcher: Sequence[str] | None = None,
        secrets: SecretStore | None = None,
        login_command: Sequence[str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.paths = paths
        self.secrets = secrets
        self.login_command = list(login_command) if login_command is not None else [sys.executable, "-m", "mcpguard"]
        self._signin: QProcess | None = None
        """The sign-in under way, if any: one at a time, since each one sends the user to the browser."""
        self._signin_name = ""
        self._signin_err = bytearray()
        self.confirm: ConfirmPlan = confirm if confirm is not None else self._ask
        self.env = env
        self.platform = platform
        self.launcher = list(launcher) if launcher is not None else None
        self.configs: list[ConfigFile] = []
        self._loaded = False
        self._servers: dict[ServerKey, ServerEntry] = {}
        self._fresh: dict[ServerKey, str] = {}
        """Servers the watch reported, with the mark their row carries until they are guarded."""
        self._current: _Key | None = None
        self._expanded: dict[_Key, bool] = {}
        self._mono = _mono()
        self._colours = _colours(self)

        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)
        self.refresh_button = QPushButton("&Refresh")
        self.refresh_button.setToolTip("Read every client's config again.")
        self.refresh_button.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.refresh_button)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(5)
        self.tree.setHeaderLabels(
            ["Client / server", "Transport", "Guarded", "Command, address or config file", "Risk"]
        )
        self.tree.setUniformRowHeights(True)
        self.tree.setIndentation(16)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self._elide_middle = _ElideMiddle(self.tree)
        self.tree.setItemDelegateForColumn(_COMMAND, self._elide_middle)
        header = self.tree.header()
        header.setStretchLastSection(False)
        for column in (_NAME, _TRANSPORT, _GUARDED):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(_COMMAND, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(_RISK, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(_RISK, 300)
        self.tree.currentItemChanged.connect(self._on_tree_current_item_changed)

        self.details = _browser()
        self.details.document().setDefaultFont(self.font())
        self.details.setAccessibleName("Details of the selection")

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.tree)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)

        self.wrap_button = QPushButton("&Wrap server")
        self.wrap_button.clicked.connect(self._on_wrap_button_clicked)
        self.unwrap_button = QPushButton("&Unwrap server")
        self.unwrap_button.clicked.connect(self._on_unwrap_button_clicked)
        self.wrap_all_button = QPushButton("Wrap a&ll of client")
        self.wrap_all_button.clicked.connect(self._on_wrap_all_button_clicked)
        self.unwrap_all_button = QPushButton("U&nwrap all of client")
        self.unwrap_all_button.clicked.connect(self._on_unwrap_all_button_clicked)
        self.remote_box = QCheckBox("Also guard re&mote servers (mcpguard becomes their bridge)")
        """Opt-in, as ``mcpguard wrap --remote`` is: a remote entry then starts ``mcpguard remote URL``."""
        self.remote_box.setToolTip(
            "Wrap remote servers (a URL, or npx mcp-remote) too: the client then starts mcpguard remote, which "
            "checks their tools as it does a local server's. Header values that look like secrets move to the "
            "keyring. You see every change before it is made."
        )
        self.remote_box.toggled.connect(self._on_remote_box_toggled)
        self.signin_button = QPushButton("Sign &in…")
        """Runs ``mcpguard remote login`` for a wrapped remote entry, so the client's next start needs no sign-in."""
        self.signin_button.clicked.connect(self._on_signin_button_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.wrap_button)
        buttons.addWidget(self.unwrap_button)
        buttons.addWidget(self.signin_button)
        buttons.addSpacing(8)
        buttons.addWidget(self.remote_box)
        buttons.addStretch(1)
        buttons.addWidget(self.wrap_all_button)
        buttons.addWidget(self.unwrap_all_button)

        self.message = QLabel()
        """One sentence after an action (or why it failed); never a modal box."""
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # it quotes names and paths from configs
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        self._show_selection()

    # -- reading ------------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        """The configs are read when the page is first shown, unless the watch already handed them over."""
        super().showEvent(event)
        if not self._loaded:
            self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Read every client's config again and show it."""
        with _busy():
            configs = discover(self.env, self.platform)
        self.show_configs(configs)

    @Slot(object)
    def show_configs(self, configs: list[ConfigFile]) -> None:
        """Show a reading of the configs, keeping the selection, the expanded rows and the scroll position."""
        self._loaded = True
        self.configs = list(configs)
        self._servers = {s.key: s for c in self.configs for s in c.servers}
        self._fresh = {k: v for k, v in self._fresh.items() if k in self._servers and not self._servers[k].guarded}
        keep = self._current
        scroll = self.tree.verticalScrollBar().value()
        self._remember_expanded()
        with QSignalBlocker(self.tree):
            self.tree.clear()
            for client_id, files in self._by_client().items():
                self._add_client(client_id, files)
            found = self._row(keep) if keep is not None else None
            if found is None and keep is not None:
                found = self._row(_Key(keep.client))
            if found is not None:
                self.tree.setCurrentItem(found)
        self.tree.verticalScrollBar().setValue(scroll)
        self._current = found.data(_NAME, _KEY_ROLE) if found is not None else None
        self._show_summary()
        self._show_selection()

    @Slot(object)
    def on_watch_events(self, events: list[ClientEvent]) -> None:
        """Mark the servers the watch reported and say what happened in one line."""
        for event in events:
            key = event.server.key
            if event.kind == "auto-wrapped":
                self._fresh.pop(key, None)
            else:
                self._fresh[key] = "no longer guarded" if event.kind == "wrap-removed" else "new, not guarded"
        title, _ = notification(events)
        self._say(title.replace(" — click to review", ""), error=any(e.kind != "auto-wrapped" for e in events))
        self.show_configs(self.configs)

    def select_server(self, key: ServerKey) -> bool:
        """Select a server's row (a notification leads here); False when it is not in the configs."""
        server = self._servers.get(key)
        if server is None:
            return False
        row = self._row(_Key(server.client, str(server.config), key))
        if row is None:
            return False
        self.tree.setCurrentItem(row)
        self.tree.scrollToItem(row)
        return True

    # -- the tree -----------------------------------------------------------------------------------

    def _by_client(self) -> dict[str, list[ConfigFile]]:
        out: dict[str, list[ConfigFile]] = {}
        for config in self.configs:
            out.setdefault(config.spec.id, []).append(config)
        return out

    def _add_client(self, client_id: str, files: list[ConfigFile]) -> None:
        row = QTreeWidgetItem(self.tree)
        key = _Key(client_id)
        row.setData(_NAME, _KEY_ROLE, key)
        row.setText(_NAME, files[0].spec.name)
        row.setFont(_NAME, _bold(self.tree.font()))
        local = [s for c in files for s in c.servers if s.transport == "stdio"]
        guarded = sum(1 for s in local if s.guarded)
        if local:
            row.setText(_GUARDED, f"{guarded} of {len(local)}")
            row.setIcon(_GUARDED, status_icon(Status.APPROVED if guarded == len(local) else Status.PENDING))
            row.setToolTip(_GUARDED, f"{guarded} of its {_plural(len(local), 'local server')} start through mcpguard")
        if len(files) == 1:
            row.setText(_COMMAND, display_path(files[0].path, self.env))
            row.setToolTip(_COMMAND, str(files[0].path))
        else:
            row.setText(_COMMAND, f"{len(files)} config files")
        flags = [f for c in files for s in c.servers for f in _flags(s)]
        if flags:
            worst = _worst(flags)
            assert worst is not None
            row.setText(_RISK, _flag_counts(flags))
            row.setIcon(_RISK, flag_icon(worst.severity))
            row.setForeground(_RISK, QColor(_SEVERITY_COLOURS[worst.severity]))
        if any(c.error for c in files):
            row.setIcon(_NAME, flag_icon("danger"))
            row.setToolTip(_NAME, "a config file of this client cannot be read; select it for the error")
        for config in files:
            parent = row
            if len(files) > 1:
                parent = QTreeWidgetItem(row)
                file_key = _Key(client_id, str(config.path))
                parent.setData(_NAME, _KEY_ROLE, file_key)
                parent.setText(_NAME, display_path(config.path, self.env))
                parent.setToolTip(_NAME, str(config.path))
                parent.setFirstColumnSpanned(True)
                parent.setExpanded(self._expanded.get(file_key, True))
            self._add_file(parent, client_id, config)
        row.setExpanded(self._expanded.get(key, True))

    def _add_file(self, parent: QTreeWidgetItem, client_id: str, config: ConfigFile) -> None:
        file_key = _Key(client_id, str(config.path))
        if config.error is not None:
            row = QTreeWidgetItem(parent)
            row.setData(_NAME, _KEY_ROLE, file_key)
            row.setText(_NAME, f"Cannot be read: {self._error(config)}")
            row.setToolTip(_NAME, config.error)
            row.setIcon(_NAME, flag_icon("danger"))
            row.setForeground(_NAME, QColor(DANGER))
            row.setFirstColumnSpanned(True)
            return
        if not config.servers:
            row = QTreeWidgetItem(parent)
            row.setData(_NAME, _KEY_ROLE, file_key)
            row.setText(_NAME, "no MCP servers in this file")
            row.setForeground(_NAME, self._muted())
            row.setFirstColumnSpanned(True)
            return
        for server in config.servers:
            self._add_server(parent, client_id, config, server)

    def _add_server(self, parent: QTreeWidgetItem, client_id: str, config: ConfigFile, s: ServerEntry) -> None:
        row = QTreeWidgetItem(parent)
        row.setData(_NAME, _KEY_ROLE, _Key(client_id, str(config.path), s.key))
        name = reveal(s.name)
        suffix = ""
        if s.scope == "local" and s.project:
            suffix += f"  (project {_last_part(s.project)})"
        if s.disabled:
            suffix += "  (disabled)"
        row.setText(_NAME, name + suffix)
        row.setToolTip(_NAME, f"{name}{suffix} in {config.path}")
        row.setText(_TRANSPORT, s.transport if s.transport != "other" else "—")
        muted = self._muted()
        if _bridged(s):
            row.setText(_TRANSPORT, "remote")
            row.setToolTip(_TRANSPORT, "a remote server its client reaches through mcpguard remote")
        if s.transport == "stdio":
            fresh = self._fresh.get(s.key)
            if s.guarded:
                row.setText(_GUARDED, "yes")
                row.setIcon(_GUARDED, status_icon(Status.APPROVED))
                row.setForeground(_GUARDED, QColor(GUARDED))
            else:
                row.setText(_GUARDED, f"no — {fresh}" if fresh else "no")
                row.setIcon(_GUARDED, status_icon(Status.PENDING))
                row.setForeground(_GUARDED, QColor(WARNING))
                if fresh:
                    row.setFont(_GUARDED, _bold(self.tree.font()))
            row.setText(_COMMAND, reveal(command_line(s.original or ())))
            row.setToolTip(_COMMAND, reveal(command_line(s.original or ())))
            row.setFont(_COMMAND, self._mono)
        else:
            row.setText(_GUARDED, "no")
            row.setForeground(_GUARDED, muted)
            why = (
                "a remote server: the client reaches it directly; with “Also guard remote servers” ticked, "
                "Wrap makes mcpguard its bridge"
                if s.transport == "remote"
                else f"nothing to wrap: {s.detail}"
            )
            row.setToolTip(_GUARDED, why)
            row.setToolTip(_TRANSPORT, why)
            detail = shown_text(s.detail)
            row.setText(_COMMAND, reveal(detail if s.transport == "remote" else f"({detail})"))
            row.setToolTip(_COMMAND, reveal(detail))
            row.setForeground(_COMMAND, muted)
        if s.disabled:
            row.setForeground(_NAME, muted)
        flags = _flags(s)
        worst = _worst(flags)
        if worst is not None:
            more = f"  (+{len(flags) - 1})" if len(flags) > 1 else ""
            row.setText(_RISK, worst.reason + more)
            row.setIcon(_RISK, flag_icon(worst.severity))
            row.setForeground(_RISK, QColor(_SEVERITY_COLOURS[worst.severity]))
            row.setToolTip(_RISK, "\n".join(f"{f.severity}: {f.reason}" for f in flags))

    def _error(self, config: ConfigFile) -> str:
        """A config's parse error with its path written as the page writes paths (``~/...``)."""
        error = config.error or ""
        return error.replace(str(config.path), display_path(config.path, self.env), 1)

    def _muted(self) -> QColor:
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.Text)
        ground = palette.color(QPalette.ColorRole.Base)
        return QColor(
            round(text.red() * 0.6 + ground.red() * 0.4),
            round(text.green() * 0.6 + ground.green() * 0.4),
            round(text.blue() * 0.6 + ground.blue() * 0.4),
        )

    def _rows(self) -> Iterator[QTreeWidgetItem]:
        stack = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while stack:
            row = stack.pop(0)
            if row is None:
                continue
            yield row
            stack[0:0] = [row.child(i) for i in range(row.childCount())]

    def _row(self, key: _Key) -> QTreeWidgetItem | None:
        return next((row for row in self._rows() if row.data(_NAME, _KEY_ROLE) == key), None)

    def _remember_expanded(self) -> None:
        for row in self._rows():
            if row.childCount():
                self._expanded[row.data(_NAME, _KEY_ROLE)] = row.isExpanded()

    def _on_tree_current_item_changed(self, current: QTreeWidgetItem | None, _previous: object) -> None:
        self._current = current.data(_NAME, _KEY_ROLE) if current is not None else None
        self._show_selection()

    # -- the selection ------------------------------------------------------------------------------

    def _selected_server(self) -> ServerEntry | None:
        key = self._current
        if key is None or key.server is None:
            return None
        return self._servers.get(key.server)

    def _client_files(self, client_id: str) -> list[ConfigFile]:
        return [c for c in self.configs if c.spec.id == client_id]

    def _show_summary(self) -> None:
        if not self.configs:
            self.summary.setText(
                "No AI client config found. mcpguard looks where each client keeps its MCP servers "
                "(Claude Desktop, Claude Code, Cursor, VS Code, Windsurf, Zed, Cline, Gemini CLI, LM Studio, "
                "Continue, Goose, Codex CLI)."
            )
            return
        clients = len({c.spec.id for c in self.configs})
        all_servers = list(self._servers.values())
        unguarded = sum(1 for s in all_servers if s.transport == "stdio" and not s.guarded)
        broken = sum(1 for c in self.configs if c.error)
        text = f"{_plural(clients, 'AI client')} · {_plural(len(all_servers), 'server')} · "
        text += f"<b>{unguarded} not guarded</b>" if unguarded else "every local server is guarded"
        if broken:
            text += f' · <span style="color:{DANGER};">{_plural(broken, "config")} cannot be read</span>'
        self.summary.setText(text)

    def _show_selection(self) -> None:
        """Details and button states for the selected row."""
        key = self._current
        server = self._selected_server()
        client_id = key.client if key is not None else None
        name = reveal(server.name) if server is not None else None
        self.wrap_button.setText(f"&Wrap {_button_name(name)}" if name else "&Wrap server")
        self.unwrap_button.setText(f"&Unwrap {_button_name(name)}" if name else "&Unwrap server")
        local = server is not None and server.transport == "stdio"
        remote = server is not None and server.transport == "remote"
        bridge = self.remote_box.isChecked()
        self.wrap_button.setEnabled(server is not None and ((local and not server.guarded) or (remote and bridge)))
        self.unwrap_button.setEnabled(local and server is not None and server.guarded)
        tip = ""
        if remote and not bridge:
            tip = "A remote server runs elsewhere: tick “Also guard remote servers” to make mcpguard its bridge."
        elif server is not None and not local and not remote:
            tip = "Only a server the client starts, or a remote one, can be guarded."
        wrap_tip = (
            "Make the client reach this server through mcpguard remote (asks first)."
            if remote
            else "Make the client start this server through mcpguard (asks first)."
        )
        self.wrap_button.setToolTip(tip or wrap_tip)
        self.unwrap_button.setToolTip(tip or "Make the client start this server directly again (asks first).")
        files = self._client_files(client_id) if client_id is not None else []
        local_servers = [s for c in files for s in c.servers if s.transport == "stdio"]
        remote_servers = [s for c in files for s in c.servers if s.transport == "remote"]
        client_label = client_name(client_id).replace("&", "&&") if client_id is not None else "client"
        self.wrap_all_button.setText(f"Wrap a&ll of {client_label}")
        self.unwrap_all_button.setText(f"U&nwrap all of {client_label}")
        self.wrap_all_button.setEnabled(any(not s.guarded for s in local_servers) or (bridge and bool(remote_servers)))
        self.unwrap_all_button.setEnabled(any(s.guarded for s in local_servers))
        self.wrap_all_button.setToolTip(
            "Wrap every server of this client that is not guarded yet, remote ones too (asks first)."
            if bridge
            else "Wrap every local server of this client that is not guarded yet (asks first)."
        )
        self.unwrap_all_button.setToolTip("Unwrap every guarded server of this client (asks first).")
        self._show_signin_button(server)
        if server is not None:
            self.details.setHtml(self._server_html(server))
        elif client_id is not None:
            self.details.setHtml(self._client_html(client_id, files))
        else:
            self.details.setHtml(
                f'<p style="color:{self._colours.muted};">Select a client or one of its servers to see its '
                "command in full, its risk flags and where its config is.</p>"
            )

    def _server_html(self, s: ServerEntry) -> str:
        colours, mono = self._colours, self._mono.family()
        if _bridged(s):
            return self._bridged_html(s)
        if s.transport == "stdio":
            state = (
                f'<b style="color:{GUARDED};">guarded</b>: its client starts it through mcpguard'
                if s.guarded
                else f'<b style="color:{WARNING};">not guarded</b>: its client starts it directly, and whatever '
                "it shows reaches the model unchecked"
            )
        elif s.transport == "remote":
            state = (
                f'<b style="color:{WARNING};">not guarded</b>: its client reaches it directly; Wrap makes '
                "mcpguard its bridge (you see every change first)"
                if self.remote_box.isChecked()
                else "remote: nothing runs on this machine for mcpguard to guard, unless it becomes the bridge "
                "(tick “Also guard remote servers”)"
            )
        else:
            state = html.escape(f"nothing to wrap: {s.detail}")
        parts = [
            f'<p style="margin:0;"><span style="font-size:large; font-weight:bold;">{to_html(s.name)}</span>'
            f'&nbsp; <span style="color:{colours.muted};">{html.escape(client_name(s.client))} · '
            f"{html.escape(s.transport)}</span></p>",
            f'<p style="margin:4px 0;">{state}.</p>',
        ]
        if s.transport == "stdio":
            parts.append('<p style="margin:6px 0 0 0;"><b>Command</b> (exactly what runs):</p>')
            parts.append(_code(command_line(s.original or ()), colours, mono))
            parts.append(flags_html(_flags(s), colours))
            if s.guarded and s.command is not None:
                parts.append('<p style="margin:6px 0 0 0;"><b>Entry as the client reads it</b>:</p>')
                parts.append(_code(command_line([s.command, *s.args]), colours, mono))
        elif s.transport == "remote":
            parts.append(f'<p style="margin:6px 0 0 0;"><b>Address</b>: {to_html(shown_text(s.detail))}</p>')
            if s.token_flags:
                parts.append(flags_html(s.token_flags, colours))
        if s.env:
            parts.append(
                f'<p style="margin:6px 0 0 0;"><b>Environment</b>: {to_html(", ".join(s.env))} '
                f'<span style="color:{colours.muted};">(names only; values are not shown)</span></p>'
            )
        extra = []
        if s.project:
            extra.append(f"project {to_html(s.project)}")
        if s.disabled:
            extra.append("disabled in the client")
        if extra:
            parts.append(f'<p style="margin:6px 0 0 0;">{", ".join(extra).capitalize()}.</p>')
        parts.append(
            f'<p style="margin:6px 0 0 0;"><b>Config file</b>: '
            f'<span style="font-family:{html.escape(mono)};">{to_html(display_path(s.config, self.env))}</span></p>'
        )
        return f'<div style="color:{colours.text};">{"".join(parts)}</div>'

    def _bridged_html(self, s: ServerEntry) -> str:
        """A remote server reached through ``mcpguard remote``: where, and the entry the client reads."""
        colours, mono = self._colours, self._mono.family()
        url = s.original[0] if s.original else s.detail
        parts = [
            f'<p style="margin:0;"><span style="font-size:large; font-weight:bold;">{to_html(s.name)}</span>'
            f'&nbsp; <span style="color:{colours.muted};">{html.escape(client_name(s.client))} · remote</span></p>',
            f'<p style="margin:4px 0;"><b style="color:{GUARDED};">guarded</b>: its client reaches it through '
            "mcpguard remote, which checks its tools as it does a local server's.</p>",
            f'<p style="margin:6px 0 0 0;"><b>Address</b>: {to_html(shown_text(url))}</p>',
            '<p style="margin:6px 0 0 0;"><b>Entry as the client reads it</b> (a header value marked '
            "<code>@keyring:</code> is read from the keyring):</p>",
            _code(command_line([s.command or "", *s.args]), colours, mono),
            f'<p style="margin:6px 0 0 0;"><b>Config file</b>: '
            f'<span style="font-family:{html.escape(mono)};">{to_html(display_path(s.config, self.env))}</span></p>',
        ]
        if _bridge_name(s) is not None:
            parts.append(
                f'<p style="margin:8px 0 0 0; color:{colours.muted};">If it asks you to sign in, <b>Sign in…</b> '
                "does it now, in your browser (<code>mcpguard remote login</code>): the token goes to the keyring, "
                "where the client's next start finds it.</p>"
            )
        return f'<div style="color:{colours.text};">{"".join(parts)}</div>'

    def _client_html(self, client_id: str, files: list[ConfigFile]) -> str:
        colours, mono = self._colours, self._mono.family()
        all_servers = [s for c in files for s in c.servers]
        local = [s for s in all_servers if s.transport == "stdio" and not _bridged(s)]
        guarded = sum(1 for s in local if s.guarded)
        bridged = sum(1 for s in all_servers if _bridged(s))
        remote = sum(1 for s in all_servers if s.transport == "remote") + bridged
        parts = [
            f'<p style="margin:0;"><span style="font-size:large; font-weight:bold;">'
            f"{html.escape(client_name(client_id))}</span></p>"
        ]
        if any(c.error is None for c in files):
            if not remote:
                remote_text = ""
            elif bridged or self.remote_box.isChecked():
                remote_text = f"; {_plural(remote, 'remote server')}, {bridged} guarded through mcpguard remote"
            else:
                remote_text = f"; {_plural(remote, 'remote server')} (reached directly, not guarded)"
            parts.append(
                f'<p style="margin:4px 0;">{_plural(len(local), "local server")}, {guarded} guarded{remote_text}.</p>'
            )
        for config in files:
            parts.append(
                f'<p style="margin:6px 0 0 0;"><b>Config file</b>: '
                f'<span style="font-family:{html.escape(mono)};">{to_html(display_path(config.path, self.env))}</span>'
                f' <span style="color:{colours.muted};">({html.escape(config.location.format.upper())})</span></p>'
            )
            if config.error:
                parts.append(
                    f'<p style="margin:2px 0; color:{DANGER};"><b>It cannot be read</b>: '
                    f"{to_html(self._error(config))}. "
                    "mcpguard never writes a file it cannot read.</p>"
                )
        if local and guarded < len(local):
            parts.append(
                f'<p style="margin:8px 0 0 0; color:{colours.muted};">Wrapping changes only each entry\'s command '
                "and puts mcpguard's arguments in front of its own; every other key, comment and line stays as "
                "it is, and Unwrap gives back the original bytes. Restart the client afterwards.</p>"
            )
        if self.remote_box.isChecked() and remote > bridged:
            parts.append(
                f'<p style="margin:8px 0 0 0; color:{colours.muted};">A remote entry\'s address and headers become '
                "the command that starts mcpguard remote; a header value that looks like a secret moves to the "
                "keyring, never onto the command line. Unwrap gives back the entry as it was, byte for byte.</p>"
            )
        return f'<div style="color:{colours.text};">{"".join(parts)}</div>'

    # -- actions ------------------------------------------------------------------------------------

    def _on_remote_box_toggled(self, _checked: bool) -> None:
        self._show_selection()

    def _on_wrap_button_clicked(self) -> None:
        self._act_on_server("wrap")

    def _on_unwrap_button_clicked(self) -> None:
        self._act_on_server("unwrap")

    def _on_wrap_all_button_clicked(self) -> None:
        if self._current is not None:
            self.act_on_client("wrap", self._current.client)

    def _on_unwrap_all_button_clicked(self) -> None:
        if self._current is not None:
            self.act_on_client("unwrap", self._current.client)

    def _act_on_server(self, kind: Kind) -> None:
        server = self._selected_server()
        if server is not None:
            self.act_on_server(kind, server.key)

    def act_on_server(self, kind: Kind, key: ServerKey) -> bool:
        """Wrap or unwrap one server, after the confirmation; True when a file was changed."""
        server = self._servers.get(key)
        if server is None:
            self._say("That server is no longer in its config; the page was read again.", error=True)
            self.refresh()
            return False
        config = next((c for c in self.configs if c.path == server.config and c.spec.id == server.client), None)
        if config is None:
            return False
        # Only this entry: a same-named server elsewhere in the file (a Claude Code project) stays as it is.
        only = replace(config, servers=tuple(s for s in config.servers if s.key == key))
        return self._run(kind, [only], f"'{reveal(server.name)}' of {client_name(server.client)}")

    def act_on_client(self, kind: Kind, client_id: str) -> bool:
        """Wrap or unwrap every server of a client, after the confirmation; True when a file was changed."""
        return self._run(kind, self._client_files(client_id), client_name(client_id))

    def _run(self, kind: Kind, configs: list[ConfigFile], what: str) -> bool:
        verb = "wrap" if kind == "wrap" else "unwrap"
        try:
            with _busy():
                # the records make the diff shown the one written, and let a remote entry be unwrapped at all
                plan = make_plan(
                    kind,
                    configs,
                    launcher=self.launcher,
                    records=WrapRecords(self.paths),
                    secrets=self.secrets,
                    remote=self.remote_box.isChecked(),
                )
        except (McpGuardError, OSError) as exc:
            self._say(f"Could not {verb} {what}: {_sentence(str(exc))}.", error=True)
            return False
        if not plan.actions:
            if plan.errors:
                self._say(f"Could not {verb} {what}: {_sentence(plan.errors[0])}.", error=True)
            else:
                reason = plan.skipped[0].reason if len(plan.skipped) == 1 else "no server needs it"
                self._say(f"Nothing to {verb} in {what}: {reason}.")
            return False
        if not self.confirm(plan):
            self._say(f"Nothing was changed; {what} stays as it was.")
            return False
        try:
            with _busy():
                results = apply(plan, self.paths)
        except (ClientConfigError, OSError) as exc:  # apply reports per file; this is a safety net
            results = [Applied(f, None, str(exc)) for f in plan.files]
        done = [r for r in results if r.error is None]
        failed = [r for r in results if r.error is not None]
        self.refresh()
        self._say(self._outcome(kind, what, done, failed), error=bool(failed))
        if done:
            self.applied.emit(kind, [a.server.key for r in done for a in r.file.actions])
            self.changed.emit()
        return bool(done)

    def _outcome(self, kind: Kind, what: str, done: list[Applied], failed: list[Applied]) -> str:
        """One sentence: what changed, what to do next, and what failed and why."""
        verb = "Wrapped" if kind == "wrap" else "Unwrapped"
        count = sum(len(r.file.actions) for r in done)
        clients = sorted({r.file.config.spec.name for r in done})
        parts: list[str] = []
        if done:
            restart = " and ".join(clients)
            backups = display_path(self.paths.home / "backups", self.env)
            if kind == "wrap":
                after = f"restart {restart} to start {'it' if count == 1 else 'them'} through mcpguard"
            else:
                after = f"restart {restart} to start {'it' if count == 1 else 'them'} directly again"
            subject = what if count == 1 and what.startswith("'") else f"{_plural(count, 'server')} of {restart}"
            parts.append(f"{verb} {subject}; {after} (the previous file is backed up in {backups})")
        for r in failed:
            message = _sentence(r.error or "")
            parts.append(f"could not change {display_path(r.file.config.path, self.env)}: {message}")
        text = "; ".join(parts)
        return text[:1].upper() + text[1:] + "."

    # -- signing in ---------------------------------------------------------------------------------

    @property
    def signing_in(self) -> bool:
        """True while a sign-in started here runs."""
        return self._signin is not None

    def login_argv(self, key: ServerKey) -> list[str] | None:
        """The command that signs in to a wrapped remote server from its entry; None for any other server.

        ``--client`` is the entry's client, so login reads the options of this very entry even when
        another client starts the server differently; ``--project`` names every project folder whose
        configs the page read, so login sees what the page sees.
        """
        server = self._servers.get(key)
        name = _bridge_name(server) if server is not None else None
        if server is None or name is None:
            return None
        projects = sorted({str(c.project) for c in self.configs if c.project is not None})
        argv = [*self.login_command, "remote", "login", name, "--client", server.client]
        for project in projects:
            argv += ["--project", project]
        return argv

    def sign_in(self, key: ServerKey) -> bool:
        """Start the sign-in to a wrapped remote server; False when one already runs or the server has none.

        The outcome comes later, on the page and as :attr:`signin_finished`; the GUI never waits for it.
        """
        if self._signin is not None:
            return False
        argv = self.login_argv(key)
        if argv is None:
            return False
        name = reveal(_bridge_name(self._servers[key]) or "")
        process = QProcess(self)
        process.setProgram(argv[0])
        process.setArguments(argv[1:])
        process.setProcessEnvironment(self._signin_environment())
        process.readyReadStandardError.connect(self._on_signin_stderr)
        process.finished.connect(self._on_signin_finished)
        process.errorOccurred.connect(self._on_signin_error)
        self._signin, self._signin_name, self._signin_err = process, name, bytearray()
        self._show_selection()
        self._say(f"Signing in to {name}: finish in your browser.")
        process.start()
        process.closeWriteChannel()  # login reads nothing; a child that tried would get end-of-file, not hang
        return True

    def _signin_environment(self) -> QProcessEnvironment:
        """The tray's environment, with this page's profile and the variables its configs were found by."""
        env = QProcessEnvironment.systemEnvironment()
        env.insert(HOME_ENV, str(self.paths.home))
        if self.env is not None:
            for var in _DISCOVERY_VARS:
                env.remove(var)
                if var in self.env:
                    env.insert(var, self.env[var])
        return env

    def _show_signin_button(self, server: ServerEntry | None) -> None:
        name = _bridge_name(server) if server is not None else None
        self.signin_button.setEnabled(self._signin is None and name is not None)
        if self._signin is not None:
            tip = f"A sign-in to {self._signin_name} is under way: finish it in your browser."
        elif name is not None and server is not None:
            tip = (
                f"Sign in to {reveal(name)} now, in your browser (mcpguard remote login), so that "
                f"{client_name(server.client)}'s next start finds the token in the keyring."
            )
        else:
            tip = "Only a remote server mcpguard bridges (wrapped with “Also guard remote servers”) has a sign-in."
        self.signin_button.setToolTip(tip)

    def _on_signin_button_clicked(self) -> None:
        server = self._selected_server()
        if server is not None:
            self.sign_in(server.key)

    def _on_signin_stderr(self) -> None:
        """Keep login's progress lines for its outcome; say at once when the address must be opened by hand."""
        process = self._signin
        if process is None:
            return
        start = self._signin_err.rfind(b"\n") + 1  # a line that came in pieces is read once it is whole
        self._signin_err += bytes(process.readAllStandardError().data())
        end = self._signin_err.rfind(b"\n") + 1
        for line in self._signin_err[start:end].decode("utf-8", "replace").splitlines():
            text = line.strip().removeprefix(_SIGNIN_PREFIX)
            if text.startswith(_NO_BROWSER):
                self._say(shown_text(text[:1].upper() + text[1:]), error=True)  # no full stop: the address is copied

    def _on_signin_error(self, error: QProcess.ProcessError) -> None:
        """A login that could not even start sends no ``finished``: end the sign-in here."""
        process = self._signin
        if process is None or error != QProcess.ProcessError.FailedToStart:
            return
        why = _sentence(process.errorString())
        self._end_signin(False, f"Not signed in to {self._signin_name}: mcpguard could not be started ({why}).")

    def _on_signin_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        process = self._signin
        if process is None:
            return
        self._signin_err += bytes(process.readAllStandardError().data())
        out = bytes(process.readAllStandardOutput().data()).decode("utf-8", "replace")
        name = self._signin_name
        if status == QProcess.ExitStatus.NormalExit and code == 0:
            lines = [line.strip() for line in out.splitlines() if line.strip()]
            self._end_signin(True, " ".join(lines) or f"Signed in to {name}.")
            return
        errors = [line.strip() for line in self._signin_err.decode("utf-8", "replace").splitlines() if line.strip()]
        if status != QProcess.ExitStatus.NormalExit:
            why = "the sign-in stopped before it ended"
        elif errors:
            why = _sentence(errors[-1].removeprefix(_SIGNIN_PREFIX))
        else:
            why = f"mcpguard remote login ended with exit status {code}"
        self._end_signin(False, f"Not signed in to {name}: {why}.")

    def _end_signin(self, ok: bool, text: str) -> None:
        """Show login's outcome (through the page's token filter: login never prints one, and it stays so)."""
        process, name = self._signin, self._signin_name
        self._signin = None
        if process is not None:
            process.deleteLater()
        self._say(shown_text(text), error=not ok)
        self._show_selection()
        self.signin_finished.emit(name, ok)

    def _ask(self, plan: Plan) -> bool:
        dialog = PlanDialog(plan, self, env=self.env)
        return dialog.exec() == QDialog.DialogCode.Accepted

    def _say(self, text: str, *, error: bool = False) -> None:
        colour = DANGER if error else self.palette().windowText().color().name()
        self.message.setStyleSheet(f"QLabel {{ color: {colour}; }}")
        self.message.setText(text)


def _bold(font: QFont) -> QFont:
    out = QFont(font)
    out.setBold(True)
    return out


def _button_name(name: str, limit: int = 28) -> str:
    """A server's name fit for a button: quoted, shortened, ``&`` kept literal."""
    short = name if len(name) <= limit else name[: limit - 1] + "…"
    return "'" + short.replace("&", "&&") + "'"


def _last_part(path: str) -> str:
    """The last component of a project directory, for a short label (the whole path is in the tooltip)."""
    return os.path.basename(path.rstrip("/\\")) or path
