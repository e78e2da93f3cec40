"""The first screen: create a case, open one, or pick a recent one."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from ui import icons

log = logging.getLogger(__name__)


class WelcomePage(QWidget):
    """Asks what to open; `new_requested`, `open_requested` or `recent_chosen(path)`."""

    new_requested = Signal()
    open_requested = Signal()
    recent_chosen = Signal(Path)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        logo = QLabel(self)
        logo.setPixmap(icons.app_icon().pixmap(72, 72))
        title = QLabel("Dossier", self)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 2.2)
        font.setWeight(QFont.Weight.DemiBold)
        title.setFont(font)
        blurb = QLabel(
            "Review a leak offline: import folders, archives and mailboxes into a case, search everything,\n"
            "tag, annotate and link what matters. A case is a folder; nothing leaves this computer.",
            self,
        )
        blurb.setEnabled(False)
        self.new_button = QPushButton(
            icons.standard(QStyle.StandardPixmap.SP_FileDialogNewFolder), "New case…", self
        )
        self.new_button.setObjectName("newCase")
        self.new_button.setDefault(True)
        self.new_button.clicked.connect(self.new_requested)
        self.open_button = QPushButton(
            icons.standard(QStyle.StandardPixmap.SP_DirOpenIcon), "Open case…", self
        )
        self.open_button.setObjectName("openCase")
        self.open_button.clicked.connect(self.open_requested)
        for button in (self.new_button, self.open_button):
            button.setMinimumHeight(34)
            button.setMinimumWidth(150)
        buttons = QHBoxLayout()
        buttons.setSpacing(10)
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)

        self.recent_label = QLabel("Recent cases", self)
        bold = QFont(self.font())
        bold.setWeight(QFont.Weight.DemiBold)
        self.recent_label.setFont(bold)
        self.recent = QListWidget(self)
        self.recent.setObjectName("recentCases")
        self.recent.setFrameShape(QFrame.Shape.StyledPanel)
        self.recent.itemActivated.connect(self._chosen)
        self.recent.itemClicked.connect(self._chosen)
        self.recent.setMinimumHeight(160)

        head = QHBoxLayout()
        head.setSpacing(16)
        head.addWidget(logo, 0, Qt.AlignmentFlag.AlignTop)
        texts = QVBoxLayout()
        texts.addWidget(title)
        texts.addWidget(blurb)
        head.addLayout(texts, 1)
        column = QVBoxLayout()
        column.setSpacing(14)
        column.addLayout(head)
        column.addSpacing(8)
        column.addLayout(buttons)
        column.addSpacing(12)
        column.addWidget(self.recent_label)
        column.addWidget(self.recent)
        box = QWidget(self)
        box.setLayout(column)
        box.setMaximumWidth(720)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(box, 4)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)

    def show_recent(self, cases: list[Path]) -> None:
        self.recent.clear()
        for path in cases:
            item = QListWidgetItem(
                icons.standard(QStyle.StandardPixmap.SP_DirIcon), f"{path.name}    {path.parent}"
            )
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(str(path))
            if not (path / "case.db").is_file():
                item.setText(f"{path.name}    {path.parent}  (missing)")
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
            self.recent.addItem(item)
        if not cases:
            item = QListWidgetItem("No recent cases. Create one to start.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent.addItem(item)

    def _chosen(self, item: QListWidgetItem) -> None:
        path = item.data(Qt.ItemDataRole.UserRole)
        if path:
            self.recent_chosen.emit(Path(path))
