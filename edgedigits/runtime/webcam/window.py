"""The reader's window, drawn with pygame (the `[gui]` extra).

Why not OpenCV's own imshow: the runtime depends on opencv-python-headless (no GUI, no X libraries), and installing
the GUI build opencv-python beside it puts two packages into one `cv2` folder, which breaks `import cv2` whenever
one is upgraded or removed. pygame's window needs no second OpenCV; frames stay numpy BGR arrays.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time

import numpy as np

QUIT_KEYS = ("q", "escape")
TITLE = "edgedigits (q or Esc quits)"


def why_not() -> str | None:
    """None when a window can be opened here, else the reason, said so a user knows what to change."""
    if importlib.util.find_spec("pygame") is None:
        return "the window needs pygame: pip install 'edgedigits[gui]'"
    if sys.platform.startswith(("linux", "freebsd", "openbsd")) and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"
    return None


class Window:
    """One window that shows BGR frames at their own size; `show` returns False once the user wants to quit."""

    def __init__(self, title: str = TITLE):
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        os.environ.setdefault("SDL_VIDEO_X11_WMCLASS", "edgedigits")  # what window managers (and xdotool) see
        import pygame

        self.pygame, self.title, self.screen = pygame, title, None
        pygame.display.init()

    def show(self, frame: np.ndarray, wait: float | None = 0.0) -> bool:
        """Draw `frame`, then keep the window live for `wait` seconds (None: until a key is pressed).
        False when the window was closed or q/Esc pressed."""
        pg = self.pygame
        height, width = frame.shape[:2]
        if self.screen is None or self.screen.get_size() != (width, height):
            self.screen = pg.display.set_mode((width, height))
            pg.display.set_caption(self.title)
        rgb = np.ascontiguousarray(frame[..., 2::-1] if frame.ndim == 3 else np.repeat(frame[..., None], 3, -1))
        self.screen.blit(pg.image.frombuffer(rgb.tobytes(), (width, height), "RGB"), (0, 0))
        pg.display.flip()
        deadline = None if wait is None else time.perf_counter() + wait
        while True:
            for event in pg.event.get():
                if event.type == pg.QUIT:
                    return False
                if event.type == pg.KEYDOWN:
                    if pg.key.name(event.key) in QUIT_KEYS:
                        return False
                    if wait is None:
                        return True
            if deadline is not None and time.perf_counter() >= deadline:
                return True
            pg.time.wait(5)

    def close(self) -> None:
        self.pygame.display.quit()
