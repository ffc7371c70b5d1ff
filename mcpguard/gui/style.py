"""Small visual helpers shared by the tray's pages, so they look alike."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel


def mute(label: QLabel) -> None:
    """Secondary text: between the text and background colours, still well readable (unlike disabled text)."""
    palette = label.palette()
    text = palette.color(QPalette.ColorRole.WindowText)
    ground = palette.color(QPalette.ColorRole.Window)
    mixed = QColor(
        round(text.red() * 0.62 + ground.red() * 0.38),
        round(text.green() * 0.62 + ground.green() * 0.38),
        round(text.blue() * 0.62 + ground.blue() * 0.38),
    )
    palette.setColor(QPalette.ColorRole.WindowText, mixed)
    label.setPalette(palette)
