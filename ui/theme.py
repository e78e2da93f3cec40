"""Look and feel: the Fusion style with a light or dark palette that follows the system colour scheme.

`Theme.apply()` sets the palette for the preference ("system", "light" or "dark"); with "system" it follows
`QStyleHints.colorScheme()` and re-applies when the system switches. Widgets that paint by hand ask
`is_dark()` and `accent_colors()` rather than hard-coding colours.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleOption, QWidget

log = logging.getLogger(__name__)

PREFERENCES = ("system", "light", "dark")


@dataclass(frozen=True)
class Accents:
    """Colours for hand-painted marks, readable on the current palette."""

    mark: QColor  # background of a matched word
    mark_text: QColor
    current_hit: QColor  # outline of the hit being looked at
    muted_text: QColor
    chip_text: QColor


def is_dark(palette: QPalette | None = None) -> bool:
    palette = palette or QGuiApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def accent_colors(palette: QPalette | None = None) -> Accents:
    palette = palette or QGuiApplication.palette()
    muted = QColor(palette.color(QPalette.ColorRole.Text))
    muted.setAlphaF(0.62)
    if is_dark(palette):
        return Accents(QColor("#8a6d00"), QColor("#fff8d6"), QColor("#ff9f1a"), muted, QColor("#ffffff"))
    return Accents(QColor("#ffe066"), QColor("#1a1a1a"), QColor("#e8590c"), muted, QColor("#ffffff"))


def dark_palette() -> QPalette:
    p = QPalette()
    base, window, text = QColor("#1e1f22"), QColor("#2b2d30"), QColor("#dfe1e5")
    disabled = QColor("#7d8087")
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: QColor("#25272a"),
        QPalette.ColorRole.ToolTipBase: QColor("#3c3f41"),
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: disabled,
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: QColor("#3c3f41"),
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: QColor("#ff6b6b"),
        QPalette.ColorRole.Light: QColor("#4a4d50"),
        QPalette.ColorRole.Midlight: QColor("#3e4144"),
        QPalette.ColorRole.Mid: QColor("#323437"),
        QPalette.ColorRole.Dark: QColor("#18191b"),
        QPalette.ColorRole.Shadow: QColor("#000000"),
        QPalette.ColorRole.Highlight: QColor("#2f65ca"),
        QPalette.ColorRole.HighlightedText: QColor("#ffffff"),
        QPalette.ColorRole.Link: QColor("#6ea8ff"),
        QPalette.ColorRole.LinkVisited: QColor("#b48ef0"),
    }
    for role, color in roles.items():
        p.setColor(role, color)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


class FusionStyle(QProxyStyle):
    """Fusion, with check boxes that stay visible on a dark palette (Fusion outlines them in a shade of
    the window colour, which on dark palettes is the colour of the box itself)."""

    INDICATORS = (
        QStyle.PrimitiveElement.PE_IndicatorCheckBox,
        QStyle.PrimitiveElement.PE_IndicatorItemViewItemCheck,
    )

    def __init__(self) -> None:
        super().__init__("Fusion")

    def drawPrimitive(
        self,
        element: QStyle.PrimitiveElement,
        option: QStyleOption,
        painter: QPainter,
        widget: QWidget | None = None,
    ) -> None:
        super().drawPrimitive(element, option, painter, widget)
        if element in self.INDICATORS and is_dark(option.palette):
            painter.save()
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QColor("#8a8f98"))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(
                option.rect.adjusted(1, 1, -1, -1).toRectF().adjusted(0.5, 0.5, -0.5, -0.5), 2, 2
            )
            painter.restore()


class Theme(QObject):
    """Applies the palette for a preference and keeps following the system when it is "system"."""

    def __init__(self, app: QApplication, preference: str = "system") -> None:
        super().__init__(app)
        self.app = app
        self.preference = preference if preference in PREFERENCES else "system"
        self.style = FusionStyle()
        app.setStyle(self.style)
        app.styleHints().colorSchemeChanged.connect(self._system_changed)

    def apply(self, preference: str | None = None) -> None:
        if preference is not None:
            self.preference = preference if preference in PREFERENCES else "system"
        dark = self.preference == "dark" or (
            self.preference == "system" and self.app.styleHints().colorScheme() == Qt.ColorScheme.Dark
        )
        self.app.setPalette(dark_palette() if dark else self.app.style().standardPalette())
        log.debug("palette: %s", "dark" if dark else "light")

    def _system_changed(self, _scheme: Qt.ColorScheme) -> None:
        if self.preference == "system":
            self.apply()
