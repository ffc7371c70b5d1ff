"""The single place that finds assets, in a checkout, an installed wheel or a frozen build."""

from __future__ import annotations

import enum
import sys
from functools import cache
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtSvg import QSvgRenderer


class TrayState(enum.Enum):
    """What the tray icon says at a glance."""

    OK = "ok"
    WAITING = "waiting"
    ALERT = "alert"


_BADGE = {TrayState.WAITING: QColor("#d69e2e"), TrayState.ALERT: QColor("#c53030")}


def resources_dir() -> Path:
    """``resources/`` of a checkout, ``mcpguard/resources`` of a wheel, or the bundle of a frozen build."""
    frozen = getattr(sys, "_MEIPASS", None)
    candidates = [Path(frozen) / "resources"] if frozen else []
    package = Path(__file__).resolve().parent.parent
    candidates += [package / "resources", package.parent / "resources"]
    for candidate in candidates:
        if (candidate / "icons").is_dir():
            return candidate
    raise FileNotFoundError("mcpguard's resources are missing; reinstall mcpguard")


def asset(name: str) -> Path:
    """Path of one asset, e.g. ``asset("icons/mcpguard.svg")``."""
    return resources_dir() / name


@cache
def app_icon() -> QIcon:
    return QIcon(str(asset("icons/mcpguard.svg")))


def tray_icon(state: TrayState, count: int = 0, size: int = 64) -> QIcon:
    """The shield, with an amber badge and a count when approvals wait, or a red one on a finding."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    QSvgRenderer(str(asset("icons/mcpguard.svg"))).render(painter, QRectF(0, 0, size, size))
    colour = _BADGE.get(state)
    if colour is not None:
        radius = size * 0.24
        centre = QPointF(size - radius - 1, size - radius - 1)
        painter.setPen(QColor("white"))
        painter.setBrush(colour)
        painter.drawEllipse(centre, radius, radius)
        font = QFont()
        font.setBold(True)
        font.setPixelSize(int(radius * 1.3))
        painter.setFont(font)
        text = "!" if state is TrayState.ALERT else (str(count) if count < 10 else "9+")
        box = QRectF(centre.x() - radius, centre.y() - radius, 2 * radius, 2 * radius)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return QIcon(pixmap)


def paint_warning(painter: QPainter, colour: QColor) -> None:
    """A filled warning triangle with a white exclamation mark, on a 32-pixel canvas.

    One drawing for every "look at this" mark of the tray (a changed definition, a risk flag), so
    the user learns one shape.
    """
    path = QPainterPath()
    path.moveTo(16, 2.5)
    path.lineTo(30, 28.5)
    path.lineTo(2, 28.5)
    path.closeSubpath()
    painter.setPen(QPen(colour, 2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
    painter.setBrush(colour)
    painter.drawPath(path)
    painter.setPen(
        QPen(QColor("white"), 3.6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
    )
    painter.drawLine(QPointF(16, 11), QPointF(16, 18.5))
    painter.drawPoint(QPointF(16, 24))
