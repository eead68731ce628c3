"""The OKR board: a web page served by the API process at `/board`, live through server-sent events.

Plain HTML, CSS and one JavaScript module, shipped as package data (`static/`): nothing to build
and nothing fetched from elsewhere, so it works offline.
"""

from ._data import KPI_PAGE_GRAINS, board_objectives, key_result_board, kpi_board
from ._feed import RESYNC, ScoreFeed, TooManyListeners
from ._routes import Board, board_router
from ._sessions import SESSION_COOKIE, SESSION_SECONDS, BoardSessions

__all__ = [
    "KPI_PAGE_GRAINS",
    "RESYNC",
    "SESSION_COOKIE",
    "SESSION_SECONDS",
    "Board",
    "BoardSessions",
    "ScoreFeed",
    "TooManyListeners",
    "board_objectives",
    "board_router",
    "key_result_board",
    "kpi_board",
]
